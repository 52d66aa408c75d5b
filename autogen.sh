#!/bin/sh
# Generate configure and Makefile.in from a checkout.
set -e
cd "$(dirname "$0")"
autoreconf --install --force --warnings=all >/dev/null
