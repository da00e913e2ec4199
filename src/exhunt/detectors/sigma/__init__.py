"""exhunt's Sigma evaluator: pySigma parses the rules, this package compiles them into matchers over events.

Modules: ``view`` (one event as rules see it), ``values`` (value and modifier matchers), ``regex``
(regexes evidence cannot stall), ``compile`` (condition tree -> matcher), ``literals`` (required
literals for prefiltering), ``pipeline`` (logsource and field mapping from ``rules/pipelines/*.yaml``),
``extension`` (the ``exhunt:`` block), ``loader`` (files -> compiled rules, errors, unsupported),
``index`` (rules by route and literal), ``correlation``, ``detector`` and ``family`` (the detector
family wired into ``detectors/registry.py``), ``check`` (the data behind ``exhunt rules check``).
"""
