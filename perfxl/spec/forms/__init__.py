"""The built-in project forms (spec §13), one TOML file each (selected by id: proj-2020 …)."""
