"""Retrospective (RFR) and operator-initiated (OIFR) recognition against a long-lived gallery.

``gallery`` imports custody records (images and templates encrypted with the gallery's own key) and keeps
the gallery index; ``media`` turns probe images and videos into faces to search; ``search`` runs RFR cases
(with two-reviewer decisions) and OIFR searches (the probe is gone as soon as the list is returned).
"""
