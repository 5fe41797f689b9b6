"""One module per AWS service.

sqs, lambda_ (and lambda_async), sns, eventbridge, s3, apigateway, cloudtrail, endpoint and
producer; :mod:`sim.engine.ports` holds what they share to forward messages.
"""
