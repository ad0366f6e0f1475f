#!/usr/bin/python3
"""Reference reading of a catalogue CSV with Python's csv module, for
test_catalog: prints one JSON list of tracks, each a list of FIELDS, read the
way libfer documents it: the genre column ("genres", or SpotifyFeatures'
"genre") is a list split on ';' with blanks trimmed; a track seen again
keeps its first row's fields and the highest popularity and gains the genres
it lacks (compared case-insensitively, at most 256); the list is joined with
"; ". Optional columns that are absent or empty are null."""
import csv
import json
import sys

MAX_GENRES = 256
FIELDS = ["id", "title", "artist", "genre", "popularity", "valence", "energy", "tempo",
          "danceability", "acousticness", "duration_ms", "key", "mode"]
NOTES = {"C": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "F": 5, "F#": 6,
         "Gb": 6, "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11}


def add_genres(have, text):
    """have: lower-cased name -> name as first seen (dicts keep their order)."""
    for g in text.split(";"):
        g = g.strip(" \t")
        if g and len(have) < MAX_GENRES and g.lower() not in have:
            have[g.lower()] = g


def optional(row, t):
    for col in ("danceability", "acousticness"):
        if row.get(col):
            t[col] = float(row[col])
    if row.get("duration_ms"):
        t["duration_ms"] = int(row["duration_ms"])
    if row.get("key"):
        t["key"] = NOTES[row["key"]] if row["key"] in NOTES else int(row["key"])
    if row.get("mode"):
        t["mode"] = {"major": 1, "minor": 0}.get(row["mode"].lower(), None)
        t["mode"] = int(row["mode"]) if t["mode"] is None else t["mode"]


tracks, index = [], {}
with open(sys.argv[1], newline="", encoding="utf-8-sig") as f:
    r = csv.DictReader(f)
    gcol = "genres" if "genres" in r.fieldnames else "genre"
    for row in r:
        tid, pop = row["track_id"], int(row["popularity"])
        if tid in index:
            t = tracks[index[tid]]
            t["popularity"] = max(t["popularity"], pop)
            add_genres(t["genres"], row[gcol])
            continue
        index[tid] = len(tracks)
        t = {"id": tid, "title": row["track_name"], "artist": row["artist_name"], "genres": {},
             "popularity": pop, "valence": float(row["valence"]),
             "energy": float(row["energy"]), "tempo": float(row["tempo"])}
        add_genres(t["genres"], row[gcol])
        optional(row, t)
        tracks.append(t)
for t in tracks:
    t["genre"] = "; ".join(t.pop("genres").values())
sys.stdout.write(json.dumps([[t.get(k) for k in FIELDS] for t in tracks], ensure_ascii=False))
