"""The audit log: who did what, when, on which document sets; appended to by every layer above."""
