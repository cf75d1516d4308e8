"""An OOXML package layer that knows nothing of perfxl: references, the package, cells, comments, patching."""
