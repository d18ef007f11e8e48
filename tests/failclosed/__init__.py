"""The fail-closed corpus of issue 11: hostile inputs, each of which must block."""
