"""Running a batch: one file through the pipeline, the reading pool, the output folder's state, the whole job."""
