"""Render the phase notebooks with Papermill and export client reports with nbconvert."""
