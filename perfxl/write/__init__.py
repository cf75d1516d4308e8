"""Everything perfxl writes: reports, pages, Word files, feedback copies, the summary, results.json, templates."""
