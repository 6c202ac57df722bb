"""``nyeshc conform``: a small film exported, its cut edited with OTIO's own API as an editor
would (scene 2 shortened by 1 s, scenes 3 and 4 swapped, a crossfade lengthened, a line moved,
a music cue's level changed), conformed, and the result checked against the plan of the edited
cut and, line by line, against the script the edits should give. Every example round-trips
unchanged when nothing was edited."""

from __future__ import annotations

import difflib
import json
from fractions import Fraction
from pathlib import Path

import pytest

from test_interchange import EXAMPLES, cli, tiny

otio = pytest.importorskip("opentimelineio")

FILM = '''title: "Conform"
canvas: 128x72, 24fps
seed: 3

look A:
    image: generate, seed 1
look B:
    image: generate, seed 2

character TEO:
    portrait: generate, seed 31
    voice: asemic, pitch 1.0

music HUM:
    source: generate, genre "drone", length 20s, seed 6

# the opening stays as it is
SCENE 1 "One", 3s:
    backdrop: A
    music: HUM, gain -6dB

CUT TO:

SCENE 2 "Two", 4s:
    backdrop: B
    TEO, at 1s:
        "Hello there."

CROSSFADE TO: 1s

SCENE 3 "Three", 3s:
    backdrop: A, zoom 1.0 -> 1.1
    [[ a note that travels with its scene ]]

CUT TO:

SCENE 4 "Four", 3s:
    backdrop: B
'''

# scene 2 is 1 s shorter and takes half of the longer crossfade (2 s, its cut kept in place):
# 3.5 s. Scene 4 now follows it with its whole clip (3 s) and takes the other half: 4 s. Scene 3
# keeps the clip it had, which began at the old crossfade's cut, half a second into the scene:
# 2.5 s, as the editor sees it. The line starts 0.5 s later; the cue is at -3 dB.
EXPECTED = FILM.replace('SCENE 2 "Two", 4s:', 'SCENE 2 "Two", 3.5s:') \
    .replace("music: HUM, gain -6dB", "music: HUM, gain -3dB") \
    .replace("TEO, at 1s:", "TEO, at 1.5s:") \
    .replace("CROSSFADE TO: 1s", "CROSSFADE TO: 2s") \
    .replace('''SCENE 3 "Three", 3s:
    backdrop: A, zoom 1.0 -> 1.1
    [[ a note that travels with its scene ]]

CUT TO:

SCENE 4 "Four", 3s:
    backdrop: B
''', '''SCENE 4 "Four", 4s:
    backdrop: B

CUT TO:

SCENE 3 "Three", 2.5s:
    backdrop: A, zoom 1.0 -> 1.1
    [[ a note that travels with its scene ]]
''')


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("conform")
    script = work / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    out = {"script": script, "cache": work / "cache", "work": work}
    for fmt in ("otio", "otioz", "xml", "edl"):
        target = work / "export" / f"film.{fmt}"
        rc, _, err = cli("export", script, "-o", target, "-q", "--cache", out["cache"])
        assert rc == 0, err
        out[fmt] = target
    return out


def _plan(script: Path, cache: Path) -> dict:
    rc, text, err = cli("plan", script, "--json", "--cache", cache)
    assert rc == 0, err
    return json.loads(text)


def _edit(t: object) -> None:
    """What the editor does, with OTIO's API."""
    rt = otio.opentime.RationalTime
    back = next(tr for tr in t.video_tracks() if tr.name == "Backdrops")
    clips = [c for c in back if isinstance(c, otio.schema.Clip)]
    by_scene = {c.metadata["nyeshc"]["scene"]: c for c in clips}
    # 1. scene 2 one second shorter (its tail trimmed; what follows ripples)
    two = by_scene[1]
    sr = two.source_range
    two.source_range = otio.opentime.TimeRange(sr.start_time, sr.duration - rt(24, 24))
    # 2. scenes 3 and 4 swapped
    four = by_scene[3]
    del back[list(back).index(four)]
    back.insert(list(back).index(by_scene[2]), four)
    # 3. the crossfade (now 2 -> 4) lengthened from 1 s to 2 s around its cut
    trans = next(x for x in back if isinstance(x, otio.schema.Transition))
    trans.in_offset, trans.out_offset = rt(24, 24), rt(24, 24)
    # 4. TEO's line half a second later
    dialogue = next(tr for tr in t.audio_tracks() if tr.name == "Dialogue")
    i = next(n for n, c in enumerate(dialogue) if isinstance(c, otio.schema.Clip))
    gap, after = dialogue[i - 1], dialogue[i + 1]
    half = rt(24000, 48000)
    gap.source_range = otio.opentime.TimeRange(gap.source_range.start_time, gap.source_range.duration + half)
    after.source_range = otio.opentime.TimeRange(after.source_range.start_time, after.source_range.duration - half)
    # 5. the music cue at -3 dB, as an Audio Levels effect (what the fcp adapter reads from xmeml)
    music = next(c for tr in t.audio_tracks() if tr.name == "Music" for c in tr if isinstance(c, otio.schema.Clip))
    music.effects.append(otio.schema.Effect(effect_name="Audio Levels", metadata={"fcp_xml": {
        "effectid": "audiolevels", "parameter": {"parameterid": "level", "value": str(10 ** (-3 / 20))}}}))


def test_conform_an_edited_cut(exported: dict[str, Path]) -> None:
    t = otio.adapters.read_from_file(str(exported["otio"]))
    _edit(t)
    edited = exported["work"] / "edited.otio"
    otio.adapters.write_to_file(t, str(edited))
    new = exported["work"] / "new.nysh"
    rc, out, err = cli("conform", exported["script"], edited, "-o", new, "--cache", exported["cache"])
    assert rc == 0, err
    assert out == ""
    assert "not mapped" not in err, err
    got = new.read_text(encoding="utf-8")
    assert got == EXPECTED, "".join(difflib.unified_diff(EXPECTED.splitlines(True), got.splitlines(True)))
    # the diff touches only the edited lines (and the two scene blocks that swapped places)
    changed = {ln[1:] for ln in difflib.unified_diff(FILM.splitlines(), got.splitlines(), lineterm="", n=0)
               if ln[:1] in "+-" and not ln.startswith(("+++", "---"))}
    assert changed <= {'SCENE 2 "Two", 4s:', 'SCENE 2 "Two", 3.5s:', "    music: HUM, gain -6dB",
                       "    music: HUM, gain -3dB", "    TEO, at 1s:", "    TEO, at 1.5s:", "CROSSFADE TO: 1s",
                       "CROSSFADE TO: 2s", 'SCENE 3 "Three", 3s:', "    backdrop: A, zoom 1.0 -> 1.1",
                       "    [[ a note that travels with its scene ]]", "", "CUT TO:", 'SCENE 4 "Four", 3s:',
                       'SCENE 4 "Four", 4s:', 'SCENE 3 "Three", 2.5s:', "    backdrop: B"}

    # plan --json of the result: exactly the edited cut's scenes, crossfade, line and gain
    before, after = _plan(exported["script"], exported["cache"]), _plan(new, exported["cache"])
    scenes = {s["title"]: (s["start"], s["end"]) for s in after["timeline"]["scenes"]}
    assert [s["title"] for s in after["timeline"]["scenes"]] == [
        'SCENE 1 "One"', 'SCENE 2 "Two"', 'SCENE 4 "Four"', 'SCENE 3 "Three"']
    assert scenes == {'SCENE 1 "One"': (0, 72), 'SCENE 2 "Two"': (72, 156), 'SCENE 4 "Four"': (108, 204),
                      'SCENE 3 "Three"': (204, 264)}
    assert [(o["kind"], o["a"], o["b"], o["start"], o["end"]) for o in after["timeline"]["overlaps"]] == \
        [("crossfade", 1, 2, 108, 156)]
    line_b = next(c for c in before["timeline"]["audio"] if c["role"] == "dialogue")
    line_a = next(c for c in after["timeline"]["audio"] if c["role"] == "dialogue")
    assert line_a["start"] - line_b["start"] == 24000
    assert line_a["start"] == 72 * 2000 + 72000  # scene 2's start + 1.5 s
    music_b = next(c for c in before["timeline"]["audio"] if c["role"] == "music")
    music_a = next(c for c in after["timeline"]["audio"] if c["role"] == "music")
    assert (music_b["gain_db"], music_a["gain_db"]) == (-6.0, -3.0)
    assert {k: v for k, v in music_a.items() if k != "gain_db"} == {k: v for k, v in music_b.items() if k != "gain_db"}
    # the same pictures, voice and music: only the moved beat's portrait animation is new
    old_keys = {j["key"] for j in before["jobs"]}
    new_keys = {j["key"] for j in after["jobs"]}
    assert {j["name"] for j in after["jobs"] if j["key"] not in old_keys} == {"scene 2 / TEO / beat 1"}
    assert {j["name"] for j in before["jobs"] if j["key"] not in new_keys} == {"scene 2 / TEO / beat 1"}
    # and the edited cut is what the new script's export gives: conform it again is no change
    rc, _, err = cli("export", new, "-o", exported["work"] / "again.otio", "-q", "--cache", exported["cache"])
    assert rc == 0, err


@pytest.mark.parametrize("fmt", ["otio", "otioz", "xml", "edl"])
def test_an_unedited_export_conforms_to_the_same_script(fmt: str, exported: dict[str, Path]) -> None:
    rc, out, err = cli("conform", exported["script"], exported[fmt], "--cache", exported["cache"])
    assert rc == 0, err
    assert out == FILM
    assert "no change" in err and "not mapped" not in err, err


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_round_trips_unchanged(example: Path, tmp_path: Path, exported: dict[str, Path]) -> None:
    script = tiny(example, tmp_path)
    out = tmp_path / "film.otio"
    rc, _, err = cli("export", script, "-o", out, "-q", "--cache", exported["cache"])
    assert rc == 0, err
    target = tmp_path / "same.nysh"
    rc, _, err = cli("conform", script, out, "-o", target, "--cache", exported["cache"])
    assert rc == 0, err
    assert target.read_text(encoding="utf-8") == script.read_text(encoding="utf-8")
    assert "not mapped" not in err, err


def test_in_place_and_refusing_a_changed_script(exported: dict[str, Path]) -> None:
    work = exported["work"] / "inplace"
    work.mkdir()
    script = work / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    t = otio.adapters.read_from_file(str(exported["otio"]))
    _edit(t)
    edited = work / "edited.otio"
    otio.adapters.write_to_file(t, str(edited))
    rc, out, err = cli("conform", script, edited, "--in-place", "--cache", exported["cache"])
    assert rc == 0 and out == "", err
    assert script.read_text(encoding="utf-8") == EXPECTED
    # the script is now not the one exported: a second conform refuses and writes nothing
    target = work / "other.nysh"
    rc, _, err = cli("conform", script, edited, "-o", target, "--cache", exported["cache"])
    assert rc == 2 and "changed since the export" in err
    assert not target.exists()
    assert script.read_text(encoding="utf-8") == EXPECTED


def test_foreign_clips_and_unknown_effects_are_listed(exported: dict[str, Path]) -> None:
    t = otio.adapters.read_from_file(str(exported["otio"]))
    top = next(tr for tr in t.video_tracks() if tr.name == "Captions")
    top.append(otio.schema.Clip(name="stock footage", media_reference=otio.schema.ExternalReference(
        target_url="file:///stock/sea.mov"), source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(24, 24))))
    back = next(tr for tr in t.video_tracks() if tr.name == "Backdrops")
    first = next(c for c in back if isinstance(c, otio.schema.Clip))
    first.effects.append(otio.schema.Effect(effect_name="Gaussian Blur", metadata={"fcp_xml": {"effectid": "blur"}}))
    edited = exported["work"] / "foreign.otio"
    otio.adapters.write_to_file(t, str(edited))
    rc, out, err = cli("conform", exported["script"], edited, "--cache", exported["cache"])
    assert rc == 0, err
    assert out == FILM
    assert "not mapped: clip 'stock footage' on Captions" in err
    assert "not mapped: effect 'Gaussian Blur'" in err
    assert "no change" in err
    # -q: the changes are not listed, what was not mapped still is
    rc, out, err = cli("conform", exported["script"], edited, "-q", "--cache", exported["cache"])
    assert rc == 0 and out == FILM
    assert "no change" not in err and "not mapped: clip 'stock footage'" in err


def test_a_cut_without_the_hash_is_refused(exported: dict[str, Path]) -> None:
    t = otio.adapters.read_from_file(str(exported["otio"]))
    del t.metadata["nyeshc"]["script_sha256"]
    t.tracks.markers[:] = [m for m in t.tracks.markers if "script_sha256" not in m.metadata.get("nyeshc", {})]
    edited = exported["work"] / "nohash.otio"
    otio.adapters.write_to_file(t, str(edited))
    rc, _, err = cli("conform", exported["script"], edited, "--cache", exported["cache"])
    assert rc == 2 and "no script hash" in err


def test_format_time() -> None:
    from nyeshc.export.conform import format_time

    assert [format_time(Fraction(x), Fraction(24)) for x in ("4", "3.5", "0.25", "1/24", "13/8")] == \
        ["4s", "3.5s", "250ms", "1f", "1.625s"]


def test_conform_an_edited_fcp_xml(exported: dict[str, Path]) -> None:
    """The same edits, the cut saved as FCP 7 XML (as Premiere or Resolve export it): clip names,
    the hash marker and the Audio Levels filter carry what the OTIO metadata did."""
    from nyeshc.export.otio import write_timeline

    t = otio.adapters.read_from_file(str(exported["otio"]))
    _edit(t)
    music = next(c for tr in t.audio_tracks() if tr.name == "Music" for c in tr if isinstance(c, otio.schema.Clip))
    del music.effects[:]  # the fcp adapter writes filters from metadata: set the level there
    md = music.metadata["fcp_xml"]
    md["filter"][0]["effect"]["parameter"][0]["value"] = str(10 ** (-3 / 20))
    for clip in t.find_clips():  # what an editor's XML lacks: nyeshc's own metadata
        del clip.metadata["nyeshc"]
    edited = exported["work"] / "edited.xml"
    write_timeline(t, edited)
    rc, out, err = cli("conform", exported["script"], edited, "--cache", exported["cache"])
    assert rc == 0, err
    assert "not mapped" not in err, err
    assert out == EXPECTED, "".join(difflib.unified_diff(EXPECTED.splitlines(True), out.splitlines(True)))


def test_a_music_cue_moved_and_what_cannot_map(exported: dict[str, Path]) -> None:
    """A cue moved half a second sets its ``at``; a gap between scenes and a scene taken out
    of the cut are listed, and the scene stays in the script."""
    rt = otio.opentime.RationalTime
    t = otio.adapters.read_from_file(str(exported["otio"]))
    music = next(tr for tr in t.audio_tracks() if tr.name == "Music")
    i = next(n for n, c in enumerate(music) if isinstance(c, otio.schema.Clip))
    music.insert(i, otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0, 48000), rt(24000, 48000))))
    back = next(tr for tr in t.video_tracks() if tr.name == "Backdrops")
    clips = {c.metadata["nyeshc"]["scene"]: c for c in back if isinstance(c, otio.schema.Clip)}
    del back[list(back).index(clips[3])]  # scene 4 taken out
    back.insert(list(back).index(clips[1]), otio.schema.Gap(  # a second of black before scene 2
        source_range=otio.opentime.TimeRange(rt(0, 24), rt(24, 24))))
    edited = exported["work"] / "cue.otio"
    otio.adapters.write_to_file(t, str(edited))
    rc, out, err = cli("conform", exported["script"], edited, "--cache", exported["cache"])
    assert rc == 0, err
    assert "not mapped: a gap of 1.000s before SCENE 2" in err
    assert 'not mapped: SCENE 4 "Four" is not in the cut: left in the script' in err
    assert 'SCENE 4 "Four", 3s:' in out
    # the cue plays half a second into its scene; the line kept its place in the film, so
    # within scene 2 (a second later now) it starts at 0s
    changed = [ln for ln in difflib.unified_diff(FILM.splitlines(), out.splitlines(), lineterm="", n=0)
               if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert changed == ["-    music: HUM, gain -6dB", "+    music: HUM, at 500ms, gain -6dB",
                       "-    TEO, at 1s:", "+    TEO, at 0s:"], changed


def _changed(a: str, b: str) -> list[str]:
    return [ln for ln in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def test_conform_an_edited_edl(exported: dict[str, Path]) -> None:
    """Scene 2 shortened by 1 s in the backdrop list, as an editor's EDL round trip does it: read
    with the cmx_3600 adapter, trimmed, written back by the same adapter (which drops the FCM line
    and keeps the hash comment); the other tracks' lists lie beside it, unedited."""
    import shutil

    rt = otio.opentime.RationalTime
    folder = exported["work"] / "edl-edit"
    folder.mkdir()
    for q in exported["edl"].parent.glob("film*.edl"):
        shutil.copy(q, folder / q.name)
    edl = folder / "film.edl"
    t = otio.adapters.read_from_file(str(edl), adapter_name="cmx_3600", rate=24)
    back = t.tracks[0]
    two = next(c for c in back if isinstance(c, otio.schema.Clip) and c.metadata["cmx_3600"]["reel"] == "S02BG1")
    sr = two.source_range
    two.source_range = otio.opentime.TimeRange(sr.start_time, sr.duration - rt(24, 24))
    text = otio.adapters.write_to_string(t, adapter_name="cmx_3600")
    assert "NYESHC SCRIPT SHA256" in text and "FCM:" not in text  # what the adapter keeps and drops
    edl.write_text(text, encoding="utf-8")
    rc, out, err = cli("conform", exported["script"], edl, "--cache", exported["cache"])
    assert rc == 0, err
    assert "not mapped" not in err, err
    assert _changed(FILM, out) == ['-SCENE 2 "Two", 4s:', '+SCENE 2 "Two", 3s:'], out
    new = folder / "new.nysh"
    new.write_text(out, encoding="utf-8")
    before, after = _plan(exported["script"], exported["cache"]), _plan(new, exported["cache"])
    assert [(s["title"], s["start"], s["end"]) for s in after["timeline"]["scenes"]] == [
        ('SCENE 1 "One"', 0, 72), ('SCENE 2 "Two"', 72, 144), ('SCENE 3 "Three"', 120, 192),
        ('SCENE 4 "Four"', 192, 264)]
    assert [(o["kind"], o["a"], o["b"], o["start"], o["end"]) for o in after["timeline"]["overlaps"]] == \
        [("crossfade", 1, 2, 120, 144)]
    line_b = next(c for c in before["timeline"]["audio"] if c["role"] == "dialogue")
    line_a = next(c for c in after["timeline"]["audio"] if c["role"] == "dialogue")
    assert line_a == line_b  # the line keeps its second in scene 2, which starts where it did


def test_conform_an_edited_otioz(exported: dict[str, Path]) -> None:
    """The bundle carries its media (each clip points into the zip's ``media/``) and the same
    edits made on it, re-bundled, conform as the ``.otio``'s do."""
    import zipfile

    names = zipfile.ZipFile(exported["otioz"]).namelist()
    media = {n for n in names if n.startswith("media/")}
    assert {n.rsplit(".", 1)[-1] for n in media} >= {"png", "wav", "mov"}, names
    unpacked = exported["work"] / "otioz-x"
    unpacked.mkdir()
    t = otio.adapters.read_from_file(str(exported["otioz"]), extract_to_directory=str(unpacked))
    for clip in t.find_clips():
        url = clip.media_reference.target_url
        assert url in media, url
        # the editor relinks the unpacked media (the bundle's URLs are relative to its root)
        clip.media_reference.target_url = (unpacked / url).resolve().as_uri()
    _edit(t)
    edited = exported["work"] / "edited.otioz"
    otio.adapters.write_to_file(t, str(edited))
    rc, out, err = cli("conform", exported["script"], edited, "--cache", exported["cache"])
    assert rc == 0, err
    assert "not mapped" not in err, err
    assert out == EXPECTED, "".join(difflib.unified_diff(EXPECTED.splitlines(True), out.splitlines(True)))
