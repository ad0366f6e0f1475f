#!/usr/bin/python3
"""Reference reading of a SpotifyFeatures CSV with Python's csv module, for
test_catalog: prints one JSON list of tracks, duplicates merged the way
libfer documents it (first row's features, highest popularity, genres joined
with "; " in order of appearance)."""
import csv
import json
import sys

tracks, index = [], {}
with open(sys.argv[1], newline="", encoding="utf-8-sig") as f:
    for row in csv.DictReader(f):
        tid, genre, pop = row["track_id"], row["genre"], int(row["popularity"])
        if tid in index:
            t = tracks[index[tid]]
            t["popularity"] = max(t["popularity"], pop)
            if genre.lower() not in [g.lower() for g in t["genre"].split("; ")]:
                t["genre"] += "; " + genre
            continue
        index[tid] = len(tracks)
        tracks.append({"id": tid, "title": row["track_name"], "artist": row["artist_name"],
                       "genre": genre, "popularity": pop, "valence": float(row["valence"]),
                       "energy": float(row["energy"]), "tempo": float(row["tempo"]),
                       "instrumentalness": float(row.get("instrumentalness") or "nan")})
json.dump(tracks, sys.stdout, ensure_ascii=False)
