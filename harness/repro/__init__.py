"""Generated repro scripts: the templates every finding and localization writes."""
