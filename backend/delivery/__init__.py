"""Change notifications: the worker that delivers webhooks"""
