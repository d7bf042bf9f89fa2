#!/usr/bin/env bash
# The real-photo dev set of issue 26 for `dynconf photos`: ≥ 300 photos of the ten CIFAR-10 classes
# and ≥ 300 of other things, one folder per class plus `other/`, all on real photographic
# backgrounds and never CIFAR pixels. Rebuilt from Debian packages (apt-get download, no root)
# rather than committed:
#   - real photos with their own backgrounds: gcompris-qt-data (animal, object, building and
#     music photos, each with its author and licence in a README beside it: CC0, public domain,
#     CC-BY, CC-BY-SA), python3-skimage (Chelsea the cat and others, CC0 / public domain),
#     lomiri-wallpapers-16.04 / -20.04 (two dogs, a nuthatch, objects; CC0 / CC-BY / CC-BY-SA),
#     palapeli-data (puzzle photos);
#   - composites: the photo cut-outs of Tux Paint's stamps (tuxpaint-stamps-default, GPL-2+)
#     pasted with varied scale (35–90% of the centred square), position and mirroring onto random
#     crops of photographic wallpapers that suit the object (sky, water, grass, paths, rooms) from
#     plasma-workspace-wallpapers, mate-backgrounds and lomiri-wallpapers-16.04.
# DIR/SOURCES.md lists every file with its package, version, original path(s), author and licence.
# Deterministic (fixed seeds) and resumable: the .deb files and what is unpacked from them stay in
# target/photo-sources; Pillow is installed into target/photo-venv on the first run (PyPI).
# The image work is scripts/photo_devset.py; it also makes the page's samples (www/samples):
#   target/photo-venv/bin/python scripts/photo_devset.py samples target/photo-sources www/samples
#
#   scripts/photo-devset.sh [DIR]      # default target/photos; then:
#   cargo run --release -p dynconf-cli -- photos target/photos
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-target/photos}
WORK=target/photo-sources
VENV=target/photo-venv
PILLOW=pillow==13.0.0
mkdir -p "$WORK/x"

# package | members to unpack (tar patterns; the copyright file always comes along)
PACKAGES=$(cat <<'LIST'
tuxpaint-stamps-default|./usr/share/tuxpaint/stamps/*
gcompris-qt-data|./usr/share/gcompris-qt/rcc/explore_farm_animals.rcc ./usr/share/gcompris-qt/rcc/explore_world_animals.rcc ./usr/share/gcompris-qt/rcc/erase.rcc ./usr/share/gcompris-qt/rcc/categorization.rcc ./usr/share/gcompris-qt/rcc/explore_monuments.rcc ./usr/share/gcompris-qt/rcc/explore_world_music.rcc
lomiri-wallpapers-16.04|./usr/share/backgrounds/*
lomiri-wallpapers-20.04|./usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg
plasma-workspace-wallpapers|./usr/share/wallpapers/BytheWater/* ./usr/share/wallpapers/ColdRipple/* ./usr/share/wallpapers/DarkestHour/* ./usr/share/wallpapers/Kite/* ./usr/share/wallpapers/Path/* ./usr/share/wallpapers/summer_1am/* ./usr/share/wallpapers/FallenLeaf/* ./usr/share/wallpapers/OneStandsOut/* ./usr/share/wallpapers/Volna/*
mate-backgrounds|./usr/share/backgrounds/mate/nature/*
python3-skimage|./usr/lib/python3/dist-packages/skimage/data/*
palapeli-data|./usr/share/palapeli/collection/*
LIST
)

# An older version of this script unpacked Tux Paint straight into $WORK/x.
[ -d "$WORK/x/usr" ] && rm -rf "$WORK/x/usr"
: >"$WORK/versions.tsv.new"
while IFS='|' read -r pkg members; do
  deb=$(ls "$WORK/${pkg}"_*_all.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    echo "downloading $pkg" >&2
    (cd "$WORK" && apt-get download "$pkg" >/dev/null) || {
      echo "error: cannot download the Debian package $pkg (apt-get download); put its .deb in $WORK" >&2
      exit 1
    }
    deb=$(ls "$WORK/${pkg}"_*_all.deb | head -1)
  fi
  dest=$WORK/x/$pkg
  if [ "$(cat "$dest/.unpacked" 2>/dev/null)" != "$(basename "$deb") $members" ]; then
    rm -rf "$dest" && mkdir -p "$dest"
    # shellcheck disable=SC2086  # members are several patterns
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest" --wildcards $members "./usr/share/doc/$pkg/copyright"
    echo "$(basename "$deb") $members" >"$dest/.unpacked"
  fi
  printf '%s\t%s\n' "$pkg" "$(dpkg-deb -f "$deb" Version)" >>"$WORK/versions.tsv.new"
done <<<"$PACKAGES"
mv "$WORK/versions.tsv.new" "$WORK/versions.tsv"

# Pillow (image decoding, WebP included, and JPEG encoding) in a virtual environment of our own.
if ! "$VENV/bin/python" -c 'import PIL' 2>/dev/null; then
  echo "installing Pillow into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "$PILLOW" 2>/dev/null || "$VENV/bin/pip" install -q pillow
fi

rm -rf "$DIR" && mkdir -p "$DIR"
"$VENV/bin/python" scripts/photo_devset.py build "$WORK" "$DIR"
