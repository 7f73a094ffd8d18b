"""The report e-mail: each department's upcoming events, stored in S3 and mailed out."""
