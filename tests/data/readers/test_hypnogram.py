import numpy as np
import pytest

from isatsleepnet.data import labels as L
from isatsleepnet.data.readers.hypnogram import read_edf_annotations, read_hypnogram, read_table, read_xml
from isatsleepnet.errors import DataError

NSRR = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<PSGAnnotation><SoftwareVersion>Compumedics</SoftwareVersion><EpochLength>30</EpochLength>
<ScoredEvents>
<ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept><Start>0</Start><Duration>300.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Wake|0</EventConcept><Start>0.0</Start><Duration>60.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 1 sleep|1</EventConcept><Start>60.0</Start><Duration>30.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Arousals|Arousals</EventType><EventConcept>Arousal|Arousal ()</EventConcept><Start>70.0</Start><Duration>5.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 4 sleep|4</EventConcept><Start>90.0</Start><Duration>60.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>REM sleep|5</EventConcept><Start>150.0</Start><Duration>90.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Unscored|9</EventConcept><Start>240.0</Start><Duration>60.0</Duration></ScoredEvent>
</ScoredEvents></PSGAnnotation>"""

PROFUSION = """<?xml version="1.0"?><CMPStudyConfig><EpochLength>30</EpochLength>
<SleepStages><SleepStage>0</SleepStage><SleepStage>0</SleepStage><SleepStage>1</SleepStage><SleepStage>2</SleepStage>
<SleepStage>3</SleepStage><SleepStage>5</SleepStage><SleepStage>6</SleepStage><SleepStage>0</SleepStage></SleepStages></CMPStudyConfig>"""


def test_nsrr_xml_keeps_only_stage_events(tmp_path):
    path = tmp_path / "shhs1-200001-nsrr.xml"
    path.write_text(NSRR)
    codes = read_xml(path).to_epochs(10, 30.0)
    assert list(codes) == [0, 0, 1, 3, 3, 4, 4, 4, L.DROP, L.DROP]


def test_profusion_xml_is_per_epoch(tmp_path):
    path = tmp_path / "p.xml"
    path.write_text(PROFUSION)
    hyp = read_xml(path)
    assert hyp.per_epoch
    assert list(hyp.to_epochs(8, 30.0)) == [0, 0, 1, 2, 3, 4, L.DROP, 0]
    with pytest.raises(DataError, match="hypnogram lists 8 epochs but the PSG holds 20"):
        hyp.to_epochs(20, 30.0)


def test_nsrr_unknown_stage(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text(NSRR.replace("REM sleep|5", "Odd sleep|7"))
    with pytest.raises(DataError, match=r"^bad\.xml: unknown stage label 'Odd sleep\|7'$"):
        read_xml(path)


def test_malformed_xml(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text(NSRR[:200])
    with pytest.raises(DataError, match=r"^broken\.xml: not valid XML"):
        read_xml(path)


def test_xml_entity_expansion_is_refused(tmp_path):
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><PSGAnnotation>&b;</PSGAnnotation>'
    path = tmp_path / "bomb.xml"
    path.write_text(bomb)
    with pytest.raises(DataError, match="not valid XML"):
        read_xml(path)


def test_csv_with_header_and_tsv_without(tmp_path):
    csv_path = tmp_path / "a.csv"
    csv_path.write_text("# scored by hand\nepoch,stage\n0,W\n1,N1\n2,N2\n3,N3\n4,REM\n5,?\n")
    assert list(read_table(csv_path).to_epochs(6, 30.0)) == [0, 1, 2, 3, 4, L.DROP]
    tsv_path = tmp_path / "b.tsv"
    tsv_path.write_text("W\nW\nS2\nR\n")
    assert list(read_hypnogram(tsv_path).to_epochs(4, 30.0)) == [0, 0, 2, 4]


def test_csv_with_onsets(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("onset,stage\n60,N2\n90,N3\n")
    hyp = read_table(path)
    assert not hyp.per_epoch
    assert list(hyp.to_epochs(4, 30.0)) == [L.UNLABELLED, L.UNLABELLED, 2, 3]


def test_csv_unknown_label_names_line(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("stage\nW\nN2\nDeep\n")
    with pytest.raises(DataError, match=r"^u\.csv: unknown stage label 'Deep' on line 4$"):
        read_table(path)


def test_empty_hypnograms(tmp_path):
    for name in ("e.csv", "e.xml"):
        (tmp_path / name).write_text("")
        with pytest.raises(DataError, match="empty file"):
            read_hypnogram(tmp_path / name)


def test_edf_annotations_and_overrun_rules(tmp_path, write_hypnogram_edf):
    path = write_hypnogram_edf(tmp_path / "H.edf", [
        (0, 90, "Sleep stage W"), (90, 60, "Sleep stage 4"), (150, 30, "Movement time"),
        (180, 30, "Sleep stage R"), (210, 600, "Sleep stage ?"),
    ])
    hyp = read_edf_annotations(path)
    # An unscored tail past the PSG's end is fine (real Sleep-EDF files have one).
    assert list(hyp.to_epochs(8, 30.0)) == [0, 0, 0, 3, 3, L.DROP, 4, L.DROP]
    with pytest.raises(DataError, match="hypnogram overruns the PSG: stages are scored up to 210 s but the signals end at 120 s"):
        hyp.to_epochs(4, 30.0)


def test_hypnogram_too_short_for_psg(tmp_path, write_hypnogram_edf):
    path = write_hypnogram_edf(tmp_path / "S.edf", [(0, 60, "Sleep stage W"), (60, 30, "Sleep stage 1")])
    with pytest.raises(DataError, match="hypnogram covers only 3 % of the PSG's 100 epochs"):
        read_edf_annotations(path).to_epochs(100, 30.0)


def test_hypnogram_disjoint_from_psg(tmp_path):
    path = tmp_path / "late.csv"
    path.write_text("onset,stage\n9000,N2\n")
    with pytest.raises(DataError, match="overruns"):
        read_table(path).to_epochs(10, 30.0)


def test_unknown_edf_stage(tmp_path, write_hypnogram_edf):
    path = write_hypnogram_edf(tmp_path / "U.edf", [(0, 30, "Sleep stage W"), (30, 30, "Sleep stage X")])
    with pytest.raises(DataError, match=r"^U\.edf: unknown stage label 'Sleep stage X' at 30 s$"):
        read_edf_annotations(path)


def test_generic_edf_annotations_ignore_other_events(tmp_path, write_hypnogram_edf):
    path = write_hypnogram_edf(tmp_path / "G.edf", [(0, 30, "Lights off"), (0, 30, "Wake"), (30, 30, "N2"), (60, 0, "REM")])
    assert list(read_hypnogram(path).to_epochs(3, 30.0)) == [0, 2, 4]


def test_unsupported_format(tmp_path):
    path = tmp_path / "h.json"
    path.write_text("{}")
    with pytest.raises(DataError, match="unsupported hypnogram format"):
        read_hypnogram(path)
