#!/usr/bin/python3
"""fer-serve's API on loopback (tests/sh/serve.sh starts the server and runs this).

usage: serve_api.py PORT PID BUILD TMPDIR

Checks the happy paths against the tools (POST /v1/analyze answers exactly
fer-predict's JSON, POST /v1/recommend exactly fer-recommend's), every error
class (404, 405, 413, 415, 400, 422, truncated and slow bodies, a full
queue, too many connections), that the server keeps serving through all of
it, and last that SIGTERM lets a request in progress finish. Prints one line
per failure and exits 1 if there was any.
"""
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

PORT, PID, BUILD, TMP = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
FACE = "datasets/demo/face.png"
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print(f"serve_api.py: FAIL: {what}")


def request(method, path, body=None, headers=None, timeout=30):
    """(status, headers dict, parsed JSON or raw bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    if method != "HEAD" and hdrs.get("content-type", "").startswith("application/json"):
        return r.status, hdrs, json.loads(data)
    return r.status, hdrs, data


def post_image(path_qs, data, ctype="image/png"):
    return request("POST", path_qs, data, {"Content-Type": ctype})


def post_json(obj_or_text, ctype="application/json"):
    body = obj_or_text if isinstance(obj_or_text, (bytes, str)) else json.dumps(obj_or_text)
    return request("POST", "/v1/recommend", body, {"Content-Type": ctype})


def tool(*args, stdin=None):
    p = subprocess.run([f"{BUILD}/bin/{args[0]}", *args[1:]], input=stdin, capture_output=True)
    return p.stdout


def expect_error(got, status, text, what):
    s, h, j = got
    ok = s == status and isinstance(j, dict) and list(j) == ["schema", "error"] and text in j["error"]
    check(ok, f"{what}: expected {status} with '{text}', got {s} {j!r:.300}")


def multipart(fields, boundary="fer-test-boundary"):
    """fields: [(name, filename or None, bytes)]."""
    out = b""
    for name, filename, data in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode()
        if filename:
            out += b"Content-Type: image/png\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def png(w, h, grey=128):
    """A flat grey PNG written by hand (zlib only)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + bytes([grey]) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def raw_socket():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    return s


def headers_only(path, length, ctype="image/png"):
    """A POST's headers with Expect: 100-continue, as curl sends them for a big body: the
    answer comes before any of the body is sent (a client sending it regardless may see the
    connection close under it)."""
    s = raw_socket()
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
              f"Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n".encode())
    reply = b""
    while part := s.recv(65536):  # the server closes: the body it refused is not read
        reply += part
    s.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), {}, json.loads(body)


def healthy(what):
    t0 = time.monotonic()
    s, _, j = request("GET", "/v1/health", timeout=5)
    check(s == 200 and j.get("status") == "ok", f"health after {what}: {s} {j!r:.200}")
    return time.monotonic() - t0


face = open(FACE, "rb").read()

# ------------------------------------------------------------ happy paths
s, h, j = request("GET", "/v1/health")
check(s == 200 and list(j) == ["schema", "model", "status", "version", "workers", "waiting", "tracks"] and
      j["workers"] == 2 and j["tracks"] > 1000 and h.get("cache-control") == "no-store",
      f"GET /v1/health: {s} {j}")
s, h, _ = request("HEAD", "/v1/health")
check(s == 200, f"HEAD /v1/health: {s}")

predicted = json.loads(tool("fer-predict", "--json", "--bpm", "88", FACE))
s, _, j = post_image("/v1/analyze?bpm=88", face)
predicted["image"] = "upload"
check(s == 200 and j == predicted, f"POST /v1/analyze differs from fer-predict --json:\n {j}\n {predicted}")
check(list(j) == ["schema", "model", "image", "faces", "heart", "state"], f"analyze keys: {list(j)}")
check(j["state"] is not None and len(j["faces"]) == 1, f"demo photo: one face and a state: {j}")
box = j["faces"][0]["box"]
check(abs(box[0] - 180) < 20 and abs(box[1] - 120) < 20 and abs(box[2] - 200) < 30, f"face box {box}")
s, _, j = post_image("/v1/analyze", face, "application/octet-stream")
check(s == 200 and j["heart"] is None and j["state"] is not None, f"octet-stream, no heart: {s} {j!r:.200}")
hr_file = os.path.join(TMP, "hr.csv")
with open(hr_file, "w") as f:
    f.write("seconds,bpm\n0,70\n1,72\n2,75\n3,74\n")
series = json.loads(tool("fer-predict", "--json", "--hr", hr_file, "--age", "30", FACE))
body, ctype = multipart([("image", "me.png", face), ("hr", None, b"70,72,75,74"), ("age", None, b"30")])
s, _, j = request("POST", "/v1/analyze", body, {"Content-Type": ctype})
check(s == 200 and j["heart"] == series["heart"] and j["state"] == series["state"],
      f"multipart with hr and age differs from fer-predict --hr:\n {j}\n {series}")
s, _, j = post_image("/v1/analyze", png(320, 240))
check(s == 200 and j["faces"] == [] and j["state"] is None, f"a flat image: no face, 200: {s} {j}")

# fer-predict's JSON as the body: fer-recommend's answer to the same, byte for byte.
line = tool("fer-predict", "--json", "--bpm", "88", FACE)
s, _, j = post_json(line)
check(s == 200 and j == json.loads(tool("fer-recommend", "--json", stdin=line)),
      f"POST /v1/recommend with fer-predict's JSON differs from fer-recommend: {j!r:.300}")
check(s == 200 and list(j) == ["schema", "state", "heart", "strategy", "target", "source", "tracks"],
      f"recommend keys: {list(j) if isinstance(j, dict) else j}")
for req, args in [({"emotion": "sad", "intensity": 0.8, "bpm": 62, "limit": 3},
                   ["--emotion", "sad", "--intensity", "0.8", "--bpm", "62", "--limit", "3"]),
                  ({"emotion": "angry", "strategy": "uplift", "genre": "jazz", "seed": 7, "age": 12, "bpm": 120},
                   ["--emotion", "angry", "--strategy", "uplift", "--genre", "jazz", "--seed", "7",
                    "--age", "12", "--bpm", "120"])]:
    s, _, j = post_json(req)
    want = json.loads(tool("fer-recommend", "--json", *args))
    check(s == 200 and j == want, f"recommend {req} differs from fer-recommend {args}:\n {j!r:.300}\n {want!r:.300}")
probs = predicted["faces"][0]["probabilities"]
s, _, j = post_json({"probabilities": probs, "heart": predicted["heart"], "limit": 2})
st = predicted["state"]
check(s == 200 and all(j["state"][k] == st[k] for k in ("emotion", "intensity", "label")) and
      abs(j["state"]["arousal"] - st["arousal"]) < 2e-3 and len(j["tracks"]) == 2,
      f"probabilities fused as the analysis fused them: {j.get('state')} vs {st}")

# ------------------------------------------------------------ errors
expect_error(request("GET", "/v1/nope"), 404, "no such endpoint", "unknown endpoint")
expect_error(request("GET", "/nope.html"), 404, "no such file", "unknown file")
expect_error(request("GET", "/../Makefile"), 404, "no such file", "a path out of web/")
expect_error(request("GET", "/.hidden.html"), 404, "no such file", "a hidden file")
s, h, _ = request("GET", "/v1/analyze")
check(s == 405 and h.get("allow") == "POST", f"GET /v1/analyze: {s} allow={h.get('allow')}")
expect_error(request("DELETE", "/v1/recommend"), 405, "use POST", "DELETE /v1/recommend")
expect_error(request("POST", "/index.html", b"x", {"Content-Type": "text/plain"}), 405, "use GET", "POST a file")
expect_error(request("GET", "/v1/health", b"x", {"Content-Type": "text/plain"}), 400, "takes no body",
             "GET with a body")
expect_error(post_image("/v1/analyze", face, "text/plain"), 415, "takes an image", "analyze text/plain")
expect_error(request("POST", "/v1/analyze", face), 415, "not none", "analyze without a content type")
expect_error(post_json({"emotion": "sad"}, "text/plain"), 415, "application/json", "recommend text/plain")
expect_error(headers_only("/v1/analyze", 3 << 20), 413, "larger than", "a body over --max-body")
expect_error(post_image("/v1/analyze", png(1000, 1000)), 413, "too large", "an image over --max-pixels")


def chunked(data, size=8192):
    for i in range(0, len(data), size):
        yield data[i:i + size]


c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
c.request("POST", "/v1/analyze", body=chunked(b"\0" * (3 << 20)), headers={"Content-Type": "image/png"},
          encode_chunked=True)
r = c.getresponse()
j = json.loads(r.read())
c.close()
check(r.status == 413 and "larger than" in j["error"], f"chunked body over --max-body: {r.status} {j}")

expect_error(post_image("/v1/analyze", b"this is no image at all"), 422, "image", "undecodable image")
expect_error(post_image("/v1/analyze", face[:len(face) // 2]), 422, "image", "truncated PNG")
expect_error(post_image("/v1/analyze", b""), 400, "empty body", "empty body")
expect_error(post_image("/v1/analyze?bpm=abc", face), 400, "bpm 'abc': not a number", "bpm=abc")
expect_error(post_image("/v1/analyze?bpm=999", face), 400, "impossible", "bpm=999")
expect_error(post_image("/v1/analyze?bpm=80&hr=70,71,72", face), 400, "either bpm or hr", "bpm and hr")
expect_error(post_image("/v1/analyze?age=30", face), 400, "age needs bpm or hr", "age alone")
expect_error(post_image("/v1/analyze?bmp=88", face), 400, "unknown parameter 'bmp'", "a typo in a parameter")
expect_error(post_image("/v1/analyze?bpm=80&bpm=90", face), 400, "bpm given twice", "bpm twice")
expect_error(post_image("/v1/analyze?hr=70,x,72", face), 400, "hr: value 2 'x' is not a number", "bad hr")
expect_error(post_image("/v1/analyze?bpm=", face), 400, "bpm: empty", "empty bpm")
body, ctype = multipart([("bpm", None, b"80")])
expect_error(request("POST", "/v1/analyze", body, {"Content-Type": ctype}), 400, "no 'image'", "form without image")
body, ctype = multipart([("image", "a.png", face), ("image", "b.png", face)])
expect_error(request("POST", "/v1/analyze", body, {"Content-Type": ctype}), 400, "two 'image'", "two images")
body, ctype = multipart([("image", "a.png", face), ("mood", None, b"x")])
expect_error(request("POST", "/v1/analyze", body, {"Content-Type": ctype}), 400, "unknown parameter 'mood'",
             "unknown form field")
expect_error(request("POST", "/v1/analyze", b"x", {"Content-Type": "multipart/form-data"}), 400, "boundary",
             "multipart without a boundary")
body, ctype = multipart([("image", "a.png", face)])
expect_error(request("POST", "/v1/analyze", body[:-40], {"Content-Type": ctype}), 400, "multipart",
             "a form cut short")

for body, text in [('{"emotion":', "malformed JSON"), ("[1, 2]", "must be a JSON object"),
                   ('{"emotion":"sad"} x', "unexpected data"), ("", "malformed JSON"),
                   ('{"emotion":"bored"}', "\"emotion\" must be"), ('{"emotion":"sad","limit":0}', "\"limit\""),
                   ('{"emotion":"sad","limit":"5"}', "\"limit\""), ('{"emotion":"sad","limit":2.5}', "\"limit\""),
                   ('{"emotion":"sad","strategy":"loud"}', "\"strategy\""),
                   ('{"emotion":"sad","bpm":999}', "impossible"), ('{"emotion":"sad","bpm":"80"}', "\"bpm\""),
                   ('{"emotion":"sad","intensity":2}', "\"intensity\""), ('{"intensity":0.5,"state":null}', "null"),
                   ('{"state":{"emotion":"sad","arousal":0.4},"emotion":"sad"}', "only one"),
                   ('{"state":null}', "no face was found"), ('{}', "no state"),
                   ('{"schema":2,"emotion":"sad"}', "schema"), ('{"state":{"emotion":"sad"}}', "state.arousal"),
                   ('{"probabilities":{"joy":1}}', "'joy' is not an emotion"),
                   ('{"probabilities":{"happy":0.3}}', "probabilities:"),
                   ('{"emotion":"sad","genre":""}', "\"genre\""), ('{"emotion":"sad","age":30}', "\"age\" needs"),
                   ('{"emotion":"sad","heart":{"bpm":"x"}}', "heart.bpm")]:
    expect_error(post_json(body), 400, text, f"recommend {body}")
expect_error(post_json({"emotion": "sad", "genre": "no-such-genre"}), 422,
             "no genre 'no-such-genre' in the catalogue", "unknown genre")
expect_error(request("POST", "/v1/recommend?limit=3", "{}", {"Content-Type": "application/json"}), 400,
             "no query parameters", "recommend with a query")
healthy("the error requests")

# ------------------------------------------------------------ truncated and slow bodies
s = raw_socket()
s.sendall(b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n" +
          face[:100])
s.shutdown(socket.SHUT_WR)  # the client goes away in the middle of the body
t0 = time.monotonic()
try:
    got = s.recv(4096)
except OSError:
    got = b""
s.close()
check(time.monotonic() - t0 < 8, "a truncated body was not dropped promptly")
check(not got.startswith(b"HTTP/1.1 200"), f"a truncated body was answered 200: {got[:100]!r}")
healthy("a truncated body")

# A client that sends its headers and stops: closed after --timeout (2 s); others are served meanwhile.
stalled = raw_socket()
stalled.sendall(b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n")
check(healthy("a stalled upload started") < 1.5, "health was slow while a client stalled")
t0 = time.monotonic()
stalled.settimeout(10)
try:
    end = stalled.recv(4096)
except OSError:
    end = b""
took = time.monotonic() - t0
check(end == b"" and 1 < took < 6, f"a stalled upload: closed after {took:.1f} s with {end[:60]!r}")
stalled.close()

# A client that trickles its body (a byte every 0.4 s, never idle): closed once --timeout has passed.
trickle = raw_socket()
trickle.sendall(b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100\r\n\r\n")
t0, closed = time.monotonic(), False
for i in range(25):
    try:
        trickle.sendall(b"x")
        time.sleep(0.4)
    except OSError:
        closed = True
        break
took = time.monotonic() - t0
trickle.close()
check(closed and took < 6, f"a trickling upload was not cut off at --timeout (closed={closed}, {took:.1f} s)")
healthy("slow clients")

# ------------------------------------------------------------ concurrency
results = []


def one_analysis():
    try:
        s, h, j = post_image("/v1/analyze", face)
        results.append((s, isinstance(j, dict) and (s == 200 and j["state"] is not None or
                                                   s == 503 and "busy" in j["error"] and h.get("retry-after") == "1")))
    except Exception as e:  # a refused or reset connection would be a failure
        results.append((0, str(e)))


threads = [threading.Thread(target=one_analysis) for _ in range(24)]
for t in threads:
    t.start()
for t in threads:
    t.join()
codes = sorted(set(r[0] for r in results))
check(all(r[1] is True for r in results) and 200 in codes, f"24 concurrent analyses: {results}")
check(503 in codes, f"24 concurrent analyses on 2 workers and --queue 2: none was refused busy: {codes}")
print(f"serve_api.py: 24 concurrent analyses: {sum(r[0] == 200 for r in results)} answered, "
      f"{sum(r[0] == 503 for r in results)} busy (503)")
s, _, j = request("GET", "/v1/health")
check(s == 200 and j["waiting"] == 0, f"the queue is empty again: {j}")

# More connections than --max-connections (16): the extra ones are refused, and once the idle
# ones time out the server answers again.
idle = []
for _ in range(24):
    try:
        idle.append(raw_socket())
    except OSError:
        pass
time.sleep(0.3)
refused = 0
for sk in idle:
    sk.settimeout(0.5)
    try:
        refused += sk.recv(1) == b""
    except socket.timeout:
        pass
    except OSError:
        refused += 1
check(refused >= 24 - 16, f"{len(idle)} idle connections, {refused} refused: --max-connections not applied")
time.sleep(3)
for sk in idle:
    sk.close()
healthy("more connections than --max-connections")

# ------------------------------------------------------------ SIGTERM drains
s = raw_socket()
s.sendall(b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n" +
          f"Content-Length: {len(face)}\r\n\r\n".encode() + face[:1000])
time.sleep(0.2)
os.kill(PID, signal.SIGTERM)
time.sleep(0.3)
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2).close()
    check(False, "a new connection was accepted after SIGTERM")
except OSError:
    pass
s.sendall(face[1000:])
s.settimeout(10)
reply = b""
while True:
    part = s.recv(65536)
    if not part:
        break
    reply += part
s.close()
check(reply.startswith(b"HTTP/1.1 200") and b'"state":{' in reply,
      f"the request in progress at SIGTERM was not answered: {reply[:200]!r}")

sys.exit(1 if failures else 0)
