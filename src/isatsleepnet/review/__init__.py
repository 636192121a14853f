"""Review of a staged night: the reviewer's edits, journaled, and the reviewed hypnogram they give.

- :mod:`~isatsleepnet.review.journal`: the append-only journal, one fsync'd line per edit;
- :mod:`~isatsleepnet.review.state`: the final stages and the undo history, replayed from it;
- :mod:`~isatsleepnet.review.staged`: what `stage` wrote, read back;
- :mod:`~isatsleepnet.review.session`: one night's review, writing NAME.reviewed.csv/.tsv/.edf.
"""
