"""Build the optional C nonce-search kernel (`powchain.node._powkernel`).

Metadata lives in pyproject.toml; this file only declares the extension. It links OpenSSL's
libcrypto when its headers are present, else it compiles a portable SHA-256. `optional=True`:
where no compiler exists the install still succeeds and the miner uses the pure-Python search.
"""

import os
import sysconfig

from setuptools import Extension, setup


def _has_openssl_headers() -> bool:
    dirs = [sysconfig.get_config_var("INCLUDEDIR") or "", "/usr/include", "/usr/local/include"]
    return any(os.path.exists(os.path.join(d, "openssl", "sha.h")) for d in dirs if d)


def _kernel() -> Extension:
    openssl = _has_openssl_headers() and not os.environ.get("POWCHAIN_NO_OPENSSL")
    return Extension(
        "powchain.node._powkernel",
        sources=["src/powchain/node/_powkernel.c"],
        depends=[
            "src/powchain/node/_powkernel_simd.h",
            "src/powchain/node/_powkernel_shani.h",
        ],
        define_macros=[("POWCHAIN_OPENSSL", "1")] if openssl else [],
        libraries=["crypto"] if openssl else [],
        extra_compile_args=["-O3"],
        optional=True,
    )


setup(ext_modules=[_kernel()])
