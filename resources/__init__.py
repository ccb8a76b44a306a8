"""Rotor's bundled files: the synthetic demo dataset (`demo/`) and the icon (`icons/`).

A package so that a wheel and `pip install .` ship them as package data; find them with
`services.resources`, never by a path relative to a source checkout.
"""
