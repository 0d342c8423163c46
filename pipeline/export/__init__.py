"""`mnd export` and `mnd measure`: the export stage for each kind of model source."""
