"""The built-in rubrics, one TOML file each (selected by id: gd-dept-2020 …)."""
