# rmq: a thin wrapper around CMake (like neovim's).
#
#   make run     install missing Debian packages, build into build/, run the
#                broker in the foreground with etc/rmq.conf (store and run
#                directory under ./var/)
#   make test    same set-up, then every test through ctest
#   make sanitize  build into build-san/ with ASan+UBSan and run every test
#   make fuzz      build the libFuzzer harnesses with clang into build-fuzz/
#   make package   build the .deb (and .rpm with rpmbuild) into build-pkg/
#
# Variables: BUILD (build dir), CMAKE_FLAGS, CTEST_FLAGS, JOBS.

BUILD        ?= build
BUILD_TYPE   ?= RelWithDebInfo
CMAKE_FLAGS  ?=
CTEST_FLAGS  ?=
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)

DEB_PACKAGES := build-essential cmake pkg-config libnng-dev libmsgpack-dev \
                libconfig-dev check libjemalloc-dev libjansson-dev zlib1g-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps configure build run test sanitize fuzz clean interop-deps package

all: build

# Install only what is missing (dpkg-query), so a ready machine does nothing.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	mkdir -p var
	exec $(BUILD)/rmq-supervisor -c etc/rmq.conf

# Node (Debian's nodejs + npm, only when there is no node at all) and the
# Node packages of the interop tests (pinned by package-lock.json).
interop-deps:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	    echo "installing: nodejs npm"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm; \
	fi
	@if [ ! -d tests/interop/node_modules ] || \
	   [ tests/interop/package-lock.json -nt tests/interop/node_modules ]; then \
	    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error) && \
	        touch tests/interop/node_modules; \
	fi

test: deps interop-deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

sanitize:
	$(MAKE) test BUILD=build-san BUILD_TYPE=Debug \
	    CMAKE_FLAGS="-DRMQ_SANITIZE=ON $(CMAKE_FLAGS)"

fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DRMQ_FUZZ=ON -DRMQ_TESTS=OFF \
	    -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build build-fuzz -j $(JOBS)

# .deb (and .rpm when rpmbuild is installed) in build-pkg/, for /usr
package: deps
	cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_INSTALL_PREFIX=/usr -DRMQ_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build build-pkg -j $(JOBS)
	cd build-pkg && cpack

clean:
	rm -rf $(BUILD) build-san build-fuzz build-pkg
