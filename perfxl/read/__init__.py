"""Reading returned files: find them, tell their format, guard, and turn a workbook into a Submission."""
