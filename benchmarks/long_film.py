"""A generated screenplay (Fountain) of a given cast and number of beats, for ``memory.py``.

``screenplay(characters=20, beats=600, seed=1)`` writes what a writer would: a title page, scene
headings over a dozen locations (``INT.``/``EXT.``, day and night), action paragraphs, and
dialogue — each *beat* is one cue with its line (sometimes a parenthetical, sometimes two
sentences), two to five characters to a scene, transitions (``CUT TO:``, ``DISSOLVE TO:``)
between some scenes. The words are drawn from a small vocabulary with a seeded generator, so
the same arguments always give the same text. About 20 words a line make a beat last about
6 s in the asemic voice, so 600 beats are an hour of film once ``nyeshc import`` has timed them.

``cut(text, beats)`` is the screenplay's first scenes holding ``beats`` beats (whole scenes):
the cuts of one film that ``memory.py`` renders to show the per-minute slope.

    python benchmarks/long_film.py [--characters 20] [--beats 600] [-o film.fountain]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

LOCATIONS = ["KITCHEN", "HARBOUR", "LIBRARY", "TRAIN STATION", "ROOFTOP", "CLASSROOM", "MARKET",
             "HOSPITAL CORRIDOR", "LIGHTHOUSE", "OBSERVATORY", "BAKERY", "FERRY DECK"]
NAMES = ["ADA", "BORIS", "CELESTE", "DMITRI", "ELENA", "FARID", "GRETA", "HUGO", "INES", "JONAH",
         "KATYA", "LUCA", "MIRA", "NIKO", "OLGA", "PAVEL", "QUINN", "ROSA", "SAMIR", "TESSA",
         "UMAR", "VERA", "WES", "XENIA", "YURI", "ZOE"]
WORDS = ("the a of and to in that it was for on are with as his they be at one have this from "
         "or had by word but what some we can out other were all there when up use your how said "
         "an each she which do their time if will way about many then them write would like so "
         "these her long make thing see him two has look more day could go come did number sound "
         "no most people my over know water than call first who may down side been now find any "
         "new work part take get place made live where after back little only round man year came "
         "show every good me give our under name very through just form sentence great think say "
         "help low line differ turn cause much mean before move right boy old too same tell does "
         "set three want air well also play small end put home read hand port large spell add even "
         "land here must big high such follow act why ask men change went light kind off need house "
         "picture try us again animal point mother world near build self earth father head stand own "
         "page should country found answer school grow study still learn plant cover food sun four "
         "between state keep eye never last let thought city tree cross farm hard start might story "
         "saw far sea draw left late run while press close night real life few north").split()
PARENS = ["quietly", "beat", "smiling", "to herself", "to himself", "turning away", "louder", "sighs"]
ACTIONS = ["looks out of the window", "sets down a cup", "crosses the room", "waits", "laughs",
           "picks up a letter", "closes the door behind them", "stares at the floor", "shrugs"]


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice([".", ".", ".", "?", "!"])


def screenplay(characters: int = 20, beats: int = 600, seed: int = 1, words: int = 10) -> str:
    """The Fountain text: ``characters`` speaking parts, ``beats`` dialogue beats of about
    ``words`` words each."""
    rng = random.Random(seed)
    cast = NAMES[:characters] if characters <= len(NAMES) else \
        NAMES + [f"EXTRA {i}" for i in range(1, characters - len(NAMES) + 1)]
    out = ["Title: The Long Night of the Harbour", "Credit: written by", "Author: nyeshc benchmarks",
           "Draft date: generated", "", ""]
    done = 0
    scene = 0
    while done < beats:
        scene += 1
        place = LOCATIONS[rng.randrange(len(LOCATIONS))]
        inside = rng.random() < 0.7
        out += [f"{'INT' if inside else 'EXT'}. {place} - {rng.choice(['DAY', 'NIGHT', 'DAY', 'DUSK'])}", ""]
        # every character speaks: the first scenes cycle through the cast
        base = [cast[(scene * 3 + k) % len(cast)] for k in range(rng.randint(2, 5))]
        people = list(dict.fromkeys(base))
        out += [f"{' and '.join(p.title() for p in people)} {rng.choice(ACTIONS)}.", ""]
        n = min(beats - done, rng.randint(3, 9))
        for b in range(n):
            who = people[b % len(people)] if rng.random() < 0.7 else rng.choice(people)
            out.append(who)
            if rng.random() < 0.15:
                out.append(f"({rng.choice(PARENS)})")
            k = max(3, int(rng.gauss(words, words / 4)))
            text = _sentence(rng, k) if rng.random() < 0.6 else \
                _sentence(rng, k // 2) + " " + _sentence(rng, k - k // 2)
            out += [text, ""]
            if rng.random() < 0.2:
                out += [f"{who.title()} {rng.choice(ACTIONS)}.", ""]
        done += n
        if done < beats and rng.random() < 0.3:
            out += [rng.choice(["CUT TO:", "DISSOLVE TO:"]), ""]
    out += ["> FADE OUT.", ""]
    return "\n".join(out)


def cut(text: str, beats: int) -> str:
    """The first whole scenes of ``text`` holding at least ``beats`` beats (a cue line and its
    dialogue count as one), then ``FADE OUT.``"""
    lines = text.split("\n")
    out: list[str] = []
    count = 0
    scene_start = False
    for i, line in enumerate(lines):
        scene_start = line.startswith(("INT. ", "EXT. "))
        if scene_start and count >= beats:
            break
        out.append(line)
        prev_blank = i == 0 or not lines[i - 1].strip()
        if prev_blank and line.strip() and (line.strip() in NAMES or line.startswith("EXTRA ")) \
                and i + 1 < len(lines) and lines[i + 1].strip():
            count += 1
    while out and out[-1].strip() in ("", "CUT TO:", "DISSOLVE TO:"):
        out.pop()
    return "\n".join(out + ["", "> FADE OUT.", ""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--characters", type=int, default=20)
    ap.add_argument("--beats", type=int, default=600)
    ap.add_argument("--cut", type=int, help="only the first scenes holding this many beats")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args()
    text = screenplay(args.characters, args.beats, args.seed)
    if args.cut:
        text = cut(text, args.cut)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
