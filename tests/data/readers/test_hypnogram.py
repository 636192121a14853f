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


def test_a_text_file_named_edf_is_not_an_edf_hypnogram(tmp_path):
    """Before: "not a readable EDF+ hypnogram (invalid literal for int() with base 10: '')", edfio's parser."""
    for name, data in (("text.edf", b"hello\nworld\n"), ("long.edf", b"x" * 300)):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError, match=rf"^{name}: not an EDF\+ hypnogram: the file does not begin with an EDF "
                                            r"or BDF header$"):
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


def test_a_missing_hypnogram_or_a_folder_is_named_as_such(tmp_path):
    with pytest.raises(DataError, match="^nonexist: no such hypnogram file$") as caught:
        read_hypnogram(tmp_path / "nonexist")
    assert caught.value.path == tmp_path / "nonexist"
    with pytest.raises(DataError, match="is a folder, not a hypnogram file$"):
        read_hypnogram(tmp_path)


# --------------------------------------------------------------------------- integer stage codes
AMBIGUOUS = (r"integer stage codes 0-4 without a 5: AASM \(4 = REM, YASA / DeepSleepNet\) or R&K \(4 = stage 4 = N3, "
             r"5 = REM\)\? say which with stage_codes= aasm or stage_codes= rk$")


def write(path, text: str):
    path.write_text(text)
    return path


def test_a_zero_to_four_file_is_refused_unless_the_coding_is_given(tmp_path):
    path = write(tmp_path / "night.csv", "stage\n0\n1\n2\n3\n4\n4\n")
    with pytest.raises(DataError, match=r"^night\.csv: " + AMBIGUOUS):
        read_hypnogram(path)
    assert list(read_hypnogram(path, stage_codes="aasm").to_epochs(6, 30.0)) == [0, 1, 2, 3, L.REM, L.REM]
    assert list(read_hypnogram(path, stage_codes="rk").to_epochs(6, 30.0)) == [0, 1, 2, 3, L.N3, L.N3]


def test_a_five_anywhere_makes_the_whole_file_rk(tmp_path):
    # the 4 on line 2 is decided by the 5 on the last line: per file, never per line
    path = write(tmp_path / "shhs.tsv", "0\n4\n" + "2\n" * 50 + "5\n")
    hyp = read_hypnogram(path)
    codes = hyp.to_epochs(53, 30.0)
    assert codes[1] == L.N3 and codes[-1] == L.REM
    assert hyp.notes == ["integer stage codes read as R&K (4 = N3, 5 = REM), as code 5 on line 53 shows"]
    assert read_hypnogram(write(tmp_path / "mt.csv", "0\n4\n6\n")).to_epochs(3, 30.0)[1] == L.N3


def test_a_negative_code_makes_the_whole_file_aasm(tmp_path):
    path = write(tmp_path / "yasa.csv", "stage\n-2\n0\n4\n-1\n")
    hyp = read_hypnogram(path)
    assert list(hyp.to_epochs(4, 30.0)) == [L.DROP, 0, L.REM, L.DROP]
    assert hyp.notes == ["integer stage codes read as AASM (4 = REM), as code -2 on line 2 shows"]


def test_codes_zero_to_three_only_are_read_without_a_choice(tmp_path):
    hyp = read_hypnogram(write(tmp_path / "light.csv", "0\n1\n2\n3\n2\n"))
    assert list(hyp.to_epochs(5, 30.0)) == [0, 1, 2, 3, 2]
    assert hyp.notes == []


def test_text_and_integers_in_one_file_decide_the_integers_alike(tmp_path):
    with pytest.raises(DataError, match=AMBIGUOUS):
        read_hypnogram(write(tmp_path / "mixed.csv", "stage\nW\nN2\n4\nREM\n"))
    codes = read_hypnogram(write(tmp_path / "mixed5.csv", "stage\nW\n4\nREM\n5\n")).to_epochs(4, 30.0)
    assert list(codes) == [0, L.N3, L.REM, L.REM]
    assert list(read_hypnogram(write(tmp_path / "text.csv", "W\nN3\nREM\n")).to_epochs(3, 30.0)) == [0, 3, 4]


def test_a_code_the_chosen_coding_lacks_is_named_with_its_line(tmp_path):
    path = write(tmp_path / "c.csv", "stage\n0\n4\n5\n")
    with pytest.raises(DataError, match=r"^c\.csv: stage code 5 on line 4 does not exist in the AASM coding chosen "
                                        r"with stage_codes= aasm \(0-4, 4 = REM, -1 artefact, -2 unscored\)$") as refused:
        read_hypnogram(path, stage_codes="aasm")
    assert refused.value.settings == ("stage_codes",)  # the CLI spells it --stage-codes
    with pytest.raises(DataError, match=r"^d\.csv: stage code -1 on line 3 does not exist in the R&K coding"):
        read_hypnogram(write(tmp_path / "d.csv", "0\n4\n-1\n"), stage_codes="rk")
    with pytest.raises(DataError, match=r"^e\.csv: integer stage codes mix R&K's 5 \(on line 2\) and AASM's -1"):
        read_hypnogram(write(tmp_path / "e.csv", "0\n5\n-1\n"))
    with pytest.raises(DataError, match=r"^f\.csv: unknown stage label '7' on line 2$"):
        read_hypnogram(write(tmp_path / "f.csv", "0\n7\n"))


def test_edf_annotations_with_integer_texts_follow_the_same_rule(tmp_path, write_hypnogram_edf):
    path = write_hypnogram_edf(tmp_path / "int.edf", [(0, 30, "0"), (30, 60, "4"), (90, 30, "2"), (90, 5, "42")])
    with pytest.raises(DataError, match=r"^int\.edf: " + AMBIGUOUS):
        read_hypnogram(path)
    # "42" is no stage in any coding: in an EDF+ (which holds other events too) it is ignored
    assert list(read_hypnogram(path, stage_codes="aasm").to_epochs(4, 30.0)) == [0, L.REM, L.REM, 2]
    assert list(read_hypnogram(path, stage_codes="rk").to_epochs(4, 30.0)) == [0, L.N3, L.N3, 2]
    rk = write_hypnogram_edf(tmp_path / "rk.edf", [(0, 30, "0"), (30, 30, "4"), (60, 30, "5")])
    assert list(read_hypnogram(rk).to_epochs(3, 30.0)) == [0, L.N3, L.REM]
    aasm = write_hypnogram_edf(tmp_path / "aasm.edf", [(0, 30, "-1"), (30, 30, "4")])
    assert list(read_hypnogram(aasm).to_epochs(2, 30.0)) == [L.DROP, L.REM]
    with pytest.raises(DataError, match=r"^aasm\.edf: stage code -1 at 0 s does not exist in the R&K coding"):
        read_hypnogram(aasm, stage_codes="rk")


def test_xml_stays_rk_whatever_the_choice(tmp_path):
    path = write(tmp_path / "shhs1-1.xml", NSRR)
    hyp = read_hypnogram(path, stage_codes="aasm")
    assert list(hyp.to_epochs(10, 30.0)) == [0, 0, 1, 3, 3, 4, 4, 4, L.DROP, L.DROP]  # 4 = N3, 5 = REM
    assert hyp.notes == ["the chosen stage coding aasm does not apply to XML: NSRR and Profusion XML number "
                         "stages in R&K (5 = REM)"]


def test_an_unknown_coding_is_refused(tmp_path):
    from isatsleepnet.errors import IsatSleepNetError

    with pytest.raises(IsatSleepNetError, match="stage codes must be one of aasm, rk"):
        read_hypnogram(write(tmp_path / "a.csv", "W\n"), stage_codes="yasa")


# --------------------------------------------------------------------------- event rules
def test_overlapping_stages_are_refused_quoting_both(tmp_path):
    path = write(tmp_path / "o.csv", "onset,stage\n3600,N2\n3590,N3\n")
    with pytest.raises(DataError, match=r"^o\.csv: stage events overlap: 'N2' at 3600 s and 'N3' at 3590 s$"):
        read_hypnogram(path)
    nsrr = write(tmp_path / "o.xml", NSRR.replace("<Start>60.0</Start><Duration>30.0",
                                                  "<Start>30.0</Start><Duration>30.0"))
    with pytest.raises(DataError, match=r"stage events overlap: 'Wake\|0' at 0 s and 'Stage 1 sleep\|1' at 30 s"):
        read_hypnogram(nsrr)
    # one second of overlap is within tolerance
    assert list(read_hypnogram(write(tmp_path / "t.csv", "onset,stage\n0,W\n29,N2\n")).to_epochs(2, 30.0)) == [0, 2]


def test_movement_and_unscored_marks_may_lie_over_stages(tmp_path, write_hypnogram_edf):
    path = write_hypnogram_edf(tmp_path / "a.edf", [(0, 120, "N2"), (31, 5, "Artifact"), (120, 30, "W")])
    assert list(read_hypnogram(path).to_epochs(5, 30.0)) == [2, 2, 2, 2, 0]  # 5-s mark misses every midpoint
    path = write_hypnogram_edf(tmp_path / "b.edf", [(0, 120, "N2"), (40, 10, "Artifact"), (120, 30, "W")])
    assert list(read_hypnogram(path).to_epochs(5, 30.0)) == [2, L.DROP, 2, 2, 0]  # the stage goes on after it


def test_durations_must_be_whole_epochs_and_not_negative(tmp_path, write_hypnogram_edf):
    rk20 = write_hypnogram_edf(tmp_path / "rk20.edf", [(0, 20, "Sleep stage W"), (20, 20, "Sleep stage 1")])
    with pytest.raises(DataError, match=r"^rk20\.edf: 'Sleep stage W' at 0 s lasts 20 s, not a whole number of 30-s "
                                        r"epochs: ISATSleepNet stages 30-s epochs"):
        read_hypnogram(rk20)
    negative = write(tmp_path / "neg.xml", NSRR.replace("<Start>60.0</Start><Duration>30.0",
                                                        "<Start>60.0</Start><Duration>-30.0"))
    with pytest.raises(DataError, match=r"^neg\.xml: negative duration -30 s: 'Stage 1 sleep\|1' at 60 s$"):
        read_hypnogram(negative)
    with pytest.raises(DataError, match=r"negative duration -30 s: 'N2' at 30 s"):
        read_hypnogram(write(tmp_path / "neg.csv", "onset,duration,stage\n0,30,W\n30,-30,N2\n"))
    # within a second of whole epochs is fine; an empty or zero duration is one epoch
    ok = write(tmp_path / "ok.csv", "onset,duration,stage\n0,60.5,W\n60.5,,N2\n90,0,REM\n")
    assert list(read_hypnogram(ok).to_epochs(4, 30.0)) == [0, 0, 2, 4]
    zero = write_hypnogram_edf(tmp_path / "z.edf", [(0, 0, "W"), (30, 0, "N2")])
    assert list(read_hypnogram(zero).to_epochs(2, 30.0)) == [0, 2]


def test_grid_offset_of_events_off_the_psg_grid(tmp_path, write_hypnogram_edf):
    hyp = read_hypnogram(write(tmp_path / "late.csv", "onset,stage\n20,W\n50,N2\n80,REM\n"))
    assert hyp.grid_offset(30.0) == 20.0
    assert list(hyp.to_epochs(3, 30.0, offset_s=20.0)) == [0, 2, 4]  # epoch k covers [20 + 30k, 50 + 30k)
    assert list(hyp.to_epochs(3, 30.0)) == [L.UNLABELLED, 0, 2]  # the PSG's grid: the stage at each midpoint
    near = read_hypnogram(write(tmp_path / "near.csv", "onset,stage\n0.4,W\n30.4,N2\n59.6,REM\n"))
    assert near.grid_offset(30.0) == 0.0
    # movement and unscored marks do not count: only scored stages set the grid
    marks = read_hypnogram(write_hypnogram_edf(tmp_path / "m.edf",
                                               [(10, 30, "W"), (40, 30, "N2"), (3, 7, "Movement time")]))
    assert marks.grid_offset(30.0) == 10.0


def test_events_on_two_grids_are_refused_naming_the_first_stray(tmp_path):
    hyp = read_hypnogram(write(tmp_path / "two.csv", "onset,stage\n0,W\n30,N1\n75,N2\n105,N2\n"))
    message = (r"^two\.csv: stage events are not on one 30-s epoch grid: 'N2' at 75 s starts 15 s off the grid of "
               r"'W' at 0 s$")
    with pytest.raises(DataError, match=message):
        hyp.grid_offset(30.0)
    with pytest.raises(DataError, match=message):
        hyp.to_epochs(4, 30.0)


def test_low_coverage_is_noted_once_and_refused_under_the_minimum(tmp_path):
    hyp = read_hypnogram(write(tmp_path / "part.csv", "onset,stage\n" + "".join(f"{30 * k},N2\n" for k in range(620))))
    hyp.to_epochs(1000, 30.0)
    hyp.to_epochs(1000, 30.0)
    assert hyp.notes == ["hypnogram covers 62 % of the PSG (scored 00:00-05:10 of 08:20)"]
    with pytest.raises(DataError, match="hypnogram covers only 62 % of the PSG's 1000 epochs"):
        hyp.to_epochs(1000, 30.0, min_coverage=0.7)
    full = read_hypnogram(write(tmp_path / "full.csv", "N2\n" * 10))
    full.to_epochs(11, 30.0)
    assert full.notes == []


def test_profusion_epochs_other_than_30_s_are_refused(tmp_path):
    path = write(tmp_path / "p20.xml", PROFUSION.replace("<EpochLength>30", "<EpochLength>20"))
    with pytest.raises(DataError, match=r"^p20\.xml: EpochLength 20 s: ISATSleepNet stages 30-s epochs; "):
        read_hypnogram(path)


def test_a_header_without_a_stage_column_says_so(tmp_path):
    path = write(tmp_path / "h.csv", "onset,duration,foo\n0,30,W\n30,30,N2\n")
    with pytest.raises(DataError, match=r"^h\.csv: no stage column: looked for stage, sleep_stage, label, hypnogram, "
                                        r"score; the header has onset, duration, foo$"):
        read_hypnogram(path)


def test_a_table_with_durations_and_line_numbers_of_the_file(tmp_path):
    hyp = read_hypnogram(write(tmp_path / "d.tsv", "onset\tduration\tstage\n0\t60\tW\n60\t30\tN1\n"))
    assert list(hyp.to_epochs(3, 30.0)) == [0, 0, 1]
    # without onsets, rows with durations follow one another
    runs = read_hypnogram(write(tmp_path / "r.csv", "stage,duration\nW,60\nN2,90\nREM,\n"))
    assert not runs.per_epoch
    assert list(runs.to_epochs(6, 30.0)) == [0, 0, 2, 2, 2, 4]
    # comments and blank lines count: the line number is the one an editor shows
    with pytest.raises(DataError, match=r"unknown stage label 'Deep' on line 5$"):
        read_hypnogram(write(tmp_path / "c.csv", "# scorer: me\nstage\n\nW\nDeep\n"))


@pytest.mark.parametrize("where", ["csv-line", "csv-header", "binary", "edf", "xml"])
def test_messages_quote_at_most_80_characters_of_the_file(tmp_path, write_hypnogram_edf, where):
    junk = "x" * 10_000
    if where == "binary":
        path = tmp_path / "g.csv"
        path.write_bytes(b"\x00\x01\x1b[2Jgarbage" * 1000)
    elif where == "csv-line":
        path = write(tmp_path / "g.csv", f"stage\nW\n{junk}\n")
    elif where == "csv-header":
        path = write(tmp_path / "g.csv", f"onset,{junk}\n0,W\n")
    elif where == "edf":
        path = write_hypnogram_edf(tmp_path / "g.edf", [(0, 30, "Sleep stage " + "x" * 200)])
    else:
        path = write(tmp_path / "g.xml", NSRR.replace("REM sleep|5", junk))
    with pytest.raises(DataError) as raised:
        read_hypnogram(path)
    message = str(raised.value)
    assert "…" in message and len(message) < 200, message
    assert message.isprintable()  # control characters are escaped, not sent to the terminal
