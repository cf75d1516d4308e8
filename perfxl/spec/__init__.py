"""The form: its fields, its indicators and rules, and the built-in forms as data files."""
