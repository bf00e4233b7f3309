"""The studio: design a plan live in the browser (``compplan studio CASE``).

A local web page served from 127.0.0.1 with a one-time token: the plan as sliders,
its figures updating as they move, Optimise, Round and min budget under moved
limits and locks, candidates compared side by side, plans saved and reports
exported as the command line writes them. The layer sits above the API, beside
``cli``: it imports the API and the layers below, never the command line.
"""
