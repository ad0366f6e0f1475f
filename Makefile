# libfer build. `make` builds the libraries and tools, `make check` installs
# missing test packages and runs all tests, `make demo` installs missing
# runtime packages, builds and runs the demo; `make install` / `make
# uninstall` with PREFIX (default /usr/local) and DESTDIR.
# SAN=address,undefined builds an instrumented copy under build-san/.

CC      ?= cc
PREFIX  ?= /usr/local
SAN     ?=
BUILD   ?= $(if $(SAN),build-san,build)
PKGS    := stb libcjson libcurl libxml-2.0
OPT     ?= -O2

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SANFLAGS   := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all)

CFLAGS  ?= $(OPT) -g
# GCC's -O2 vectoriser only takes loops it can prove need no epilogue; the
# elementwise layer loops (ReLU, bias, col2im) need the dynamic cost model.
VECT    := $(if $(shell $(CC) -v 2>&1 | grep -q '^gcc version' && echo y),-fvect-cost-model=dynamic)
CFLAGS  += $(VECT)
# -fno-math-errno: the library never reads errno after a math call, and
# sqrtf vectorises without it (the optimisers); results do not change.
CFLAGS  += -std=c11 -Wall -Wextra -Werror -fPIC -pthread -D_DEFAULT_SOURCE -fno-math-errno \
	$(SANFLAGS) $(PKG_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lm -pthread
LDFLAGS += $(SANFLAGS)

# The library by domain (docs/architecture.md): core at the bottom; nn, vision,
# heart and music use core; emotion uses nn, vision and heart.
LIB_SRC := libfer/core/number.c \
	libfer/core/csv.c \
	libfer/core/error.c \
	libfer/core/rng.c \
	libfer/core/threadpool.c \
	libfer/core/fileio.c \
	libfer/core/datapath.c
LIB_SRC += libfer/nn/tensor.c \
	libfer/nn/gemm_ref.c \
	libfer/nn/gemm.c \
	libfer/nn/gemm_c.c \
	libfer/nn/gemm_avx2.c \
	libfer/nn/gemm_avx512.c \
	libfer/nn/layer.c \
	libfer/nn/conv.c \
	libfer/nn/winograd.c \
	libfer/nn/winograd_avx2.c \
	libfer/nn/winograd_avx512.c \
	libfer/nn/depthwise.c \
	libfer/nn/dense.c \
	libfer/nn/maxpool.c \
	libfer/nn/dropout.c \
	libfer/nn/relu.c \
	libfer/nn/batchnorm.c \
	libfer/nn/add.c \
	libfer/nn/gap.c \
	libfer/nn/loss.c \
	libfer/nn/arch.c \
	libfer/nn/graph.c \
	libfer/nn/model.c \
	libfer/nn/ensemble.c \
	libfer/nn/optim.c \
	libfer/nn/train.c \
	libfer/nn/safetensors.c
LIB_SRC += libfer/vision/image.c \
	libfer/vision/jpeg_check.c \
	libfer/vision/exif.c \
	libfer/vision/resize.c \
	libfer/vision/rotate.c \
	libfer/vision/cascade.c \
	libfer/vision/pyramid.c \
	libfer/vision/scan.c \
	libfer/vision/group.c \
	libfer/vision/detect.c \
	libfer/vision/annotate.c
LIB_SRC += libfer/emotion/classes.c \
	libfer/emotion/predict.c \
	libfer/emotion/presets.c \
	libfer/emotion/analyze.c \
	libfer/emotion/fusion.c \
	libfer/emotion/augment.c \
	libfer/emotion/dataset.c \
	libfer/emotion/probs.c \
	libfer/emotion/dataset_dir.c \
	libfer/emotion/live.c
LIB_SRC += libfer/heart/heart.c \
	libfer/heart/heart_file.c \
	libfer/heart/heart_stream.c
LIB_SRC += libfer/music/catalog.c \
	libfer/music/recommend.c \
	libfer/music/source.c \
	libfer/music/offline.c \
	libfer/music/spotify.c

TOOLS := \
	fer-train \
	fer-recommend \
	fer-eval \
	fer-predict \
	fer-serve
TESTS := \
	test_image \
	test_detect \
	test_analyze \
	test_predict_model \
	test_model \
	test_torch \
	test_layers \
	test_graph \
	test_heart \
	test_fusion \
	test_augment \
	test_gemm \
	test_winograd \
	test_catalog \
	test_recommend \
	test_spotify \
	test_dataset \
	test_fileio \
	test_live
TOOL_COMMON := tools/cli.c tools/json.c tools/opt.c tools/plot.c tools/faces_json.c tools/music.c

# fer-live needs FFmpeg's -dev packages (scripts/install-deps); without them it is not
# built and tests/sh/live.sh skips.
FFMPEG_PKGS   := libavformat libavcodec libavdevice libswscale libavutil
FFMPEG_CFLAGS := $(shell pkg-config --cflags $(FFMPEG_PKGS) 2>/dev/null)
FFMPEG_LIBS   := $(shell pkg-config --libs $(FFMPEG_PKGS) 2>/dev/null)
ifneq ($(FFMPEG_LIBS),)
TOOLS += fer-live
endif
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A    := $(BUILD)/libfer.a
LIB_SO   := $(BUILD)/libfer.so
TOOL_BIN := $(TOOLS:%=$(BUILD)/bin/%)
TEST_BIN := $(TESTS:%=$(BUILD)/tests/%)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

.PHONY: all check run-tests demo bench run-bench install uninstall clean deps
all: $(LIB_A) $(LIB_SO) $(TOOL_BIN)

$(BUILD)/%.o: %.c $(wildcard include/*.h libfer/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -Ilibfer -c $< -o $@

# The tools see the public header only, never the library's internal ones.
$(BUILD)/tools/%.o: tools/%.c include/fer.h $(wildcard tools/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -Itools -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# The version script lists exactly what fer.h declares: nothing internal is exported.
$(BUILD)/libfer.map: include/fer.h scripts/api-symbols
	@mkdir -p $(dir $@)
	scripts/api-symbols --map include/fer.h > $@.tmp && mv $@.tmp $@

$(LIB_SO): $(LIB_OBJ) $(BUILD)/libfer.map
	$(CC) -shared -Wl,-soname,libfer.so.0 -Wl,--version-script=$(BUILD)/libfer.map $(LDFLAGS) -o $@ $(LIB_OBJ) $(LDLIBS)

# A tool run from $(BUILD)/bin reads the source tree's weights and catalogue;
# an installed copy those under PREFIX (tools/cli.c).
$(BUILD)/tools/cli.o: CFLAGS += -DFER_SOURCE_DIR='"$(CURDIR)"' -DFER_BUILD_BIN='"$(abspath $(BUILD)/bin)"'
# fer_data_path's directory is fixed in the library: rebuild datapath.o when
# PREFIX changes (`make` then `make install PREFIX=/opt`).
$(BUILD)/libfer/core/datapath.o: CFLAGS += -DFER_DATADIR='"$(PREFIX)/share/libfer"'
$(BUILD)/libfer/core/datapath.o: $(BUILD)/prefix.txt
$(BUILD)/prefix.txt: FORCE
	@mkdir -p $(dir $@)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
.PHONY: FORCE

$(BUILD)/bin/%: tools/%.c $(TOOL_COMMON:%.c=$(BUILD)/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -Itools $(LDFLAGS) -o $@ $< $(TOOL_OWN) $(TOOL_COMMON:%.c=$(BUILD)/%.o) $(LIB_A) $(LDLIBS)

# fer-train's checkpoint progress, its own (tests/fuzz/fuzz_checkpoint.c includes it too).
$(BUILD)/bin/fer-train: TOOL_OWN = $(BUILD)/tools/progress.o
$(BUILD)/bin/fer-train: $(BUILD)/tools/progress.o

# fer-serve's HTTP side, its own: the only user of libmicrohttpd (libfer does not link it).
SERVE_OBJ  := $(addprefix $(BUILD)/tools/,serve_http.o serve_api.o serve_queue.o)
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS   := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
$(BUILD)/tools/serve_http.o: CFLAGS += $(MHD_CFLAGS)
$(BUILD)/bin/fer-serve: TOOL_OWN = $(SERVE_OBJ)
$(BUILD)/bin/fer-serve: LDLIBS += $(MHD_LIBS)
$(BUILD)/bin/fer-serve: $(SERVE_OBJ)
ifeq ($(MHD_LIBS),)
$(BUILD)/tools/serve_http.o: mhd-missing
.PHONY: mhd-missing
mhd-missing:
	@echo "fer-serve needs libmicrohttpd: apt-get install libmicrohttpd-dev (or scripts/install-deps)" >&2; exit 1
endif

# fer-live's video side, its own: the only user of FFmpeg's libraries (libfer does not
# link them; FFMPEG_LIBS is set above, where TOOLS gets fer-live).
$(BUILD)/tools/video.o: CFLAGS += $(FFMPEG_CFLAGS)
$(BUILD)/bin/fer-live: TOOL_OWN = $(BUILD)/tools/video.o
$(BUILD)/bin/fer-live: LDLIBS += $(FFMPEG_LIBS)
$(BUILD)/bin/fer-live: $(BUILD)/tools/video.o

$(BUILD)/tests/%: tests/%.c tests/testutil.h tests/gradcheck.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -Iinclude -Ilibfer -Itests $(LDFLAGS) -o $@ $< $(LIB_A) $(CHECK_LIBS) $(LDLIBS)

# `make bench`: GEMM against torch.mm and oneDNN on the same shapes, the network
# against PyTorch (bench/compare-pytorch), the predict pipeline, and the face
# detector against OpenCV's detectMultiScale on the same photo (docs/performance.md).
BENCH_SRC := bench/fer-bench.c bench/bench_gemm.c \
	bench/bench_net.c
BENCH_SRC += bench/bench_detect.c
BENCH_SRC += bench/bench_predict.c bench/bench_faces.c
$(BUILD)/bench/fer-bench: $(BENCH_SRC) bench/bench.h $(TOOL_COMMON:%.c=$(BUILD)/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -Ilibfer -Itools -Ibench $(LDFLAGS) -o $@ $(BENCH_SRC) $(TOOL_COMMON:%.c=$(BUILD)/%.o) $(LIB_A) $(LDLIBS)

# Both first install the references they measure against (only those missing).
bench:
	scripts/install-deps --bench
	$(MAKE) run-bench

run-bench: $(BUILD)/bench/fer-bench
	$(BUILD)/bench/fer-bench gemm --json > $(BUILD)/bench/gemm.json
	/usr/bin/python3 bench/compare-gemm.py --ours $(BUILD)/bench/gemm.json
	bench/compare-pytorch --fer-bench $(BUILD)/bench/fer-bench
	bench/compare-pytorch --fer-bench $(BUILD)/bench/fer-bench --arch models/fer-vgg.json
	bench/compare-onnxruntime --fer-bench $(BUILD)/bench/fer-bench --gemm-json $(BUILD)/bench/gemm.json
	$(BUILD)/bench/fer-bench predict --image datasets/demo/face.png --against paper --against-tta flip
	$(BUILD)/bench/fer-bench predict
	$(BUILD)/bench/fer-bench detect --json > $(BUILD)/bench/detect.json
	/usr/bin/python3 bench/compare-detect.py --ours $(BUILD)/bench/detect.json
	$(BUILD)/bench/fer-bench detect --paths --iters 10
	$(BUILD)/bench/fer-bench faces --image /usr/share/doc/opencv-doc/opencv4/html/astra_color.jpg --json > $(BUILD)/bench/faces.json
	/usr/bin/python3 bench/compare-detect.py --faces $(BUILD)/bench/faces.json
	$(BUILD)/bench/fer-bench faces --image datasets/demo/face.png --width 1920 --iters 5 --json > $(BUILD)/bench/faces-1920.json
	$(BUILD)/bench/fer-bench faces --image datasets/demo/face.png --width 8000 --iters 5 --json > $(BUILD)/bench/faces-8000.json
	/usr/bin/python3 bench/compare-detect.py --resolution $(BUILD)/bench/faces-1920.json $(BUILD)/bench/faces-8000.json
	$(MAKE) bench-serve
	$(MAKE) bench-live

# `make bench-serve`: fer-serve under wrk on loopback, 10,000 analyses of a 640x480 photo
# (requests/s, latency percentiles, resident memory before and after; docs/tools.md).
.PHONY: bench-serve
bench-serve: $(BUILD)/bin/fer-serve
	bench/serve-bench $(BUILD)

# `make bench-live`: fer-live on a 640x480 video with one face, one thread, against a Python
# loop of OpenCV's detectMultiScale on every frame, alternating (median of LIVE_BENCH_RUNS=3);
# and the delay of the state change (docs/performance.md). Reports, never fails on a target.
.PHONY: bench-live
bench-live: $(BUILD)/bin/fer-live
	bench/live-bench $(BUILD)

# `make bench-faces`: face detection on real photos (bench/faces/README.md): fer-predict,
# OpenCV's Haar cascade and dlib's HOG detector (a reference, never part of libfer)
# scored against hand-made boxes. fetch-photos gets the photos (npm, opencv-doc);
# BENCH_FACES_ARGS="--min-score 0.5" passes options to fer-predict.
.PHONY: bench-faces run-bench-faces
DLIB_LIBS = $(shell pkg-config --libs dlib-1 2>/dev/null || echo -ldlib)
$(BUILD)/bench/dlib_hog: bench/faces/dlib_hog.cpp
	@mkdir -p $(dir $@)
	$(CXX) -std=c++14 -O2 -o $@ $< $(shell pkg-config --cflags dlib-1 2>/dev/null) $(DLIB_LIBS)

bench-faces:
	scripts/install-deps --bench
	$(MAKE) run-bench-faces

run-bench-faces: $(BUILD)/bin/fer-predict $(BUILD)/bench/dlib_hog
	bench/faces/fetch-photos $(BUILD)/faces/photos
	/usr/bin/python3 bench/faces/score.py --photos $(BUILD)/faces/photos \
		--fer-predict $(BUILD)/bin/fer-predict --dlib $(BUILD)/bench/dlib_hog \
		--libfer-args "$(BENCH_FACES_ARGS)"

# The face verifier's training crops (scripts/train-verifier): a program on the public API.
$(BUILD)/scripts/verifier-data: scripts/verifier-data.c include/fer.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -Ilibfer $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

# tests/sh/plot.sh draws the tools' pictures (tools/plot.c) from made-up figures with this.
$(BUILD)/tests/plot-svg: tests/plot-svg.c tools/plot.h $(BUILD)/tools/plot.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -Ilibfer -Itools $(LDFLAGS) -o $@ $< $(BUILD)/tools/plot.o $(LIB_A) $(LDLIBS)

# The Spotify tests' stand-in server (tests/test_spotify.c starts it).
$(BUILD)/tests/mock-spotify: tests/mock-spotify.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# Fuzzing (docs/hardening.md). Each tests/fuzz/fuzz_<target>.c is built two
# ways: with a plain replay main() that `make check` runs over the committed
# corpus and regression inputs, and by `make fuzz` with clang's libFuzzer under
# ASan+UBSan in $(FUZZ_BUILD), run for FUZZ_SECONDS each (crashes are copied to
# tests/fuzz/regress/<target>/).
FUZZ_TARGETS := fer2013_csv image model arch_json cascade spotify heart catalog \
	spotify_retry checkpoint probs
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/replay_%)
FUZZ_SECONDS ?= 60
# FUZZ_SEED and FUZZ_RUNS (a number of executions) make a run repeatable: CI.
FUZZ_SEED    ?=
FUZZ_RUNS    ?=
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
.PHONY: fuzz fuzz-binaries

$(BUILD)/tests/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -Ilibfer -Itests/fuzz $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB_A) $(LDLIBS)

$(BUILD)/tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -Iinclude -Ilibfer -Itests/fuzz $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_A) $(LDLIBS)

# The checkpoint harness includes fer-train's progress reader.
$(BUILD)/tests/fuzz/replay_checkpoint $(BUILD)/tests/fuzz/fuzz_checkpoint: tools/progress.c tools/progress.h

fuzz-binaries: $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/fuzz_%)

fuzz:
	$(MAKE) CC=$(FUZZ_CC) SAN=fuzzer-no-link,address,undefined BUILD=$(FUZZ_BUILD) fuzz-binaries
	FUZZ_SEED=$(FUZZ_SEED) FUZZ_RUNS=$(FUZZ_RUNS) \
		tests/fuzz/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# `make check` first installs the packages the tests need (only those
# missing: instant when none is), then builds in a second make, which reads
# their pkg-config flags (as `make demo` does for the runtime ones).
check:
	scripts/install-deps
	$(MAKE) run-tests

run-tests: all $(TEST_BIN) $(BUILD)/tests/mock-spotify $(BUILD)/tests/plot-svg $(FUZZ_REPLAY)
	@BUILD=$(BUILD) tests/run-all $(TEST_BIN)

deps:
	scripts/install-deps

demo:
	scripts/install-deps --runtime
	$(MAKE) all
	scripts/demo $(BUILD)

# The tools link libfer.a; programs built with `pkg-config --libs libfer`
# link libfer.so with an rpath to PREFIX/lib (libfer.pc.in).
install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 include/fer.h $(DESTDIR)$(PREFIX)/include/fer.h
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/libfer.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libfer.so.0
	ln -sf libfer.so.0 $(DESTDIR)$(PREFIX)/lib/libfer.so
	$(if $(TOOL_BIN),install -m 755 $(TOOL_BIN) $(DESTDIR)$(PREFIX)/bin/)
	install -m 644 $(TOOLS:%=man/%.1) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -d $(DESTDIR)$(PREFIX)/share/libfer/weights $(DESTDIR)$(PREFIX)/share/libfer/datasets
	$(if $(wildcard weights/*),cp -r weights/. $(DESTDIR)$(PREFIX)/share/libfer/weights/)
	$(if $(wildcard datasets/*),cp -r datasets/. $(DESTDIR)$(PREFIX)/share/libfer/datasets/)
	install -d $(DESTDIR)$(PREFIX)/share/libfer/web && cp -r web/. $(DESTDIR)$(PREFIX)/share/libfer/web/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|0.1.0|g' libfer.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libfer.pc

# Every file install put there (folders stay: others may share them).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/fer.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/libfer.pc \
		$(addprefix $(DESTDIR)$(PREFIX)/lib/,libfer.a libfer.so.0 libfer.so) \
		$(TOOLS:%=$(DESTDIR)$(PREFIX)/bin/%) $(TOOLS:%=$(DESTDIR)$(PREFIX)/share/man/man1/%.1)
	rm -rf $(DESTDIR)$(PREFIX)/share/libfer

clean:
	rm -rf build build-san build-clang build-fuzz
