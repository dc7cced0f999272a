"""The text-only student: any Hugging Face encoder with a one-output regression head."""
