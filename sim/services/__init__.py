"""One module (or package) per AWS service, each with the port a sender reaches it through.

``sqs/`` (queue base, standard, fifo), ``lambda_`` (the function, with ``lambda_esm``, the
SQS event source mapping, and ``lambda_async``, asynchronous invocation), ``sns`` (with
``sns_schedule``, delivery policies), ``eventbridge``, ``s3``, ``apigateway``, ``cloudtrail``,
``endpoint`` and ``producer`` (with ``sdk``, the adaptive retry limiter). :mod:`registry` maps a
scenario ``type`` to the class that builds it; :mod:`sim.engine` holds what they stand on.
"""
