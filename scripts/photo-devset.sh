#!/usr/bin/env bash
# A small photo set for `dynconf photos` (issue 26), rebuilt from a Debian package rather than
# committed: the photo cut-outs of Tux Paint's stamps (package tuxpaint-stamps-default, GPL-2,
# copyright Bill Kendrick and contributors; one licence for every file). One folder per CIFAR-10
# class and `other` (food and household things). They are cut-outs on transparent backgrounds,
# which the CLI and the page composite over white: not yet the real-photo dev set issue 26 asks
# for (≥ 300 photos of each kind, on real backgrounds), a first measurable step.
#
#   scripts/photo-devset.sh [DIR]      # default target/photos; then:
#   cargo run --release -p dynconf-cli -- photos target/photos
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-target/photos}
WORK=target/photo-sources
mkdir -p "$WORK"
deb=$(ls "$WORK"/tuxpaint-stamps-default_*_all.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  (cd "$WORK" && apt-get download tuxpaint-stamps-default) || {
    echo "error: cannot download the Debian package tuxpaint-stamps-default (apt-get download); put its .deb in $WORK" >&2
    exit 1
  }
  deb=$(ls "$WORK"/tuxpaint-stamps-default_*_all.deb | head -1)
fi
rm -rf "$WORK/x" && dpkg-deb -x "$deb" "$WORK/x"
S=$WORK/x/usr/share/tuxpaint/stamps
rm -rf "$DIR" && mkdir -p "$DIR"
# class | files under the stamps folder
while IFS='|' read -r class files; do
  mkdir -p "$DIR/$class"
  for f in $files; do cp "$S/$f" "$DIR/$class/"; done
done <<'LIST'
airplane|vehicles/flight/planes/747.png
automobile|vehicles/auto/sedan.png vehicles/auto/beetle.png vehicles/auto/sportscar2.png vehicles/emergency/sedan_police.png
bird|animals/birds/pigeon.png animals/birds/crow.png animals/birds/blackbird.png animals/birds/magpie.png animals/birds/owl.png animals/birds/duck.png animals/birds/seagull.png animals/birds/heron_greatblue.png animals/birds/ostrich.png animals/birds/rooster.png animals/birds/turkey.png animals/birds/lark.png
cat|seasonal/halloween/blackcat.png
deer|animals/mammals/deer/deer.png animals/mammals/deer/doe.png animals/mammals/deer/caribou.png animals/mammals/deer/wapiti.png
dog|animals/mammals/dogs/dog.png animals/mammals/dogs/dingo.png
frog|animals/amphibians/frog.png animals/amphibians/frog-1.png
horse|animals/mammals/equines/horse.png
ship|vehicles/ship/chineseJunk.png vehicles/ship/walnutBoat.png
truck|vehicles/auto/truck.png vehicles/emergency/firetruck.png vehicles/garbagetruck.png vehicles/construction/dumper.png
LIST
mkdir -p "$DIR/other"
find "$S/food" "$S/household" -name '*.png' -not -path '*cartoon*' | sort | head -60 | xargs -I{} cp {} "$DIR/other/"
version=$(dpkg-deb -f "$deb" Version)
{
  echo "# Sources"
  echo "Debian package tuxpaint-stamps-default $version (https://tracker.debian.org/pkg/tuxpaint-stamps),"
  echo "licence GPL-2 (copyright 2002-2022 Bill Kendrick and contributors; /usr/share/doc/tuxpaint-stamps-default/copyright)."
  echo "Photo cut-outs with transparent backgrounds. Files:"
  (cd "$DIR" && find . -name '*.png' | sort)
} >"$DIR/SOURCES.md"
echo "$(find "$DIR" -name '*.png' -not -path '*/other/*' | wc -l) photos of the classes, $(find "$DIR/other" -name '*.png' | wc -l) of other things in $DIR" >&2
