"""Render the phase notebooks with Papermill and export client reports and reveal.js slides with nbconvert.

runner (run_phases), export (export_html, export_slides), branding (the `reports:` section),
executive (the executive summary slides' numbers and sentences).
"""
