# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open a PKCS#12 (PFX) file on the controller, so a wrong password fails before anything is sent to Azure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import traceback

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import pkcs12

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()


class PfxError(ValueError):
    """The file is not a PKCS#12 file this password opens."""


def read_pfx(data, password):
    """Facts of the certificate in a PFX: subject, thumbprint (SHA-1, upper-case hex as Azure shows it), expiry,
    whether a private key is inside. Raises PfxError."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except (ValueError, TypeError):
        raise PfxError("the password does not open it, or it is not a PKCS#12 (PFX) file") from None
    # Without a private key (a CA certificate) the certificate comes back among the others.
    cert = cert or (extra[0] if extra else None)
    if cert is None:
        raise PfxError("it holds no certificate")
    try:
        not_after = cert.not_valid_after_utc
    except AttributeError:  # cryptography < 42
        not_after = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return {
        "subject": cert.subject.rfc4514_string(),
        "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - the identifier Azure uses
        "not_after": not_after,
        "has_private_key": key is not None,
    }
