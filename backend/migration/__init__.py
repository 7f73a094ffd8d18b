"""The one-off migration of the legacy JSON files into the DynamoDB tables."""
