"""evsim: discrete-event reliability simulator for AWS event-processing architectures."""
