#!/usr/bin/env python3
"""Builds the real-photo dev set of issue 26 (called by scripts/photo-devset.sh, which fetches the
Debian packages, unpacks them and provides Pillow).

    photo_devset.py build   WORK DIR       # the dev set: DIR/<class>/, DIR/other/, DIR/SOURCES.md
    photo_devset.py samples WORK DIR       # the page's sample photos (www/samples)

WORK is the folder of unpacked packages (target/photo-sources): WORK/x/<package>/… and
WORK/versions.tsv (package, version). Everything is deterministic: the composites draw from
random.Random seeded with a fixed string per output file.

Three kinds of photos:
  * real photos of the classes with their own backgrounds (GCompris' animal photos, scikit-image's
    Chelsea, two Ubuntu Touch / Lomiri wallpapers), cropped to the animal where it is small;
  * composites: Tux Paint's photo cut-outs (transparent backgrounds) pasted, with varied scale,
    position and mirroring, onto crops of photographic wallpapers (Plasma, MATE, Lomiri) that suit
    the object (sky for planes, water for ships, grass/paths for animals and cars, rooms for cats);
  * 'other': real photos of things that are none of the ten classes (GCompris' photos of other
    animals, fish, tools, household things, buildings, windmills, musicians; palapeli's puzzles;
    scikit-image), a few bare backgrounds, and Tux Paint cut-outs of other things on backgrounds.
Never CIFAR pixels.
"""
import fnmatch
import glob
import io
import json
import os
import random
import re
import struct
import sys
import zlib

from PIL import Image, ImageFilter, ImageOps

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
LONG_SIDE = 384        # real photos: longer side in pixels
JPEG_QUALITY = 90
SEED = "photo-devset-v1"

TUX = "tuxpaint-stamps-default"
GC = "gcompris-qt-data"
L16 = "lomiri-wallpapers-16.04"
L20 = "lomiri-wallpapers-20.04"
PLASMA = "plasma-workspace-wallpapers"
MATE = "mate-backgrounds"
SKIMAGE = "python3-skimage"
PALAPELI = "palapeli-data"

TUX_STAMPS = "usr/share/tuxpaint/stamps"
TUX_LICENCE = ("GPL-2.0-or-later", "2002-2022 Bill Kendrick and contributors (Tux Paint stamps)")
GC_RCC = "usr/share/gcompris-qt/rcc"
GC_ACT = "gcompris/src/activities"

# ---------------------------------------------------------------------------------------------
# What goes in. Paths are relative to the unpacked package (or, for GCompris, to the Qt resource
# tree inside its .rcc files).

# class -> [(cut-out under the Tux Paint stamps folder, composites of it, largest fill)]
CLASS_CUTOUTS = {
    "airplane": [("vehicles/flight/planes/747.png", 18, 0.9), ("military/vehicles/f22_raptor.png", 18, 0.9)],
    "automobile": [("vehicles/auto/sedan.png", 9, 0.9), ("vehicles/auto/beetle.png", 9, 0.8),
                   ("vehicles/auto/sportscar2.png", 9, 0.9), ("vehicles/emergency/sedan_police.png", 9, 0.9)],
    # every bird photo cut-out of the package, one composite each
    "bird": [(p, 1, 0.9) for p in [
        "animals/birds/adelaide-rosella.png", "animals/birds/albino_peahen.png", "animals/birds/blackbird.png",
        "animals/birds/chicken_profile.png", "animals/birds/crow.png", "animals/birds/crowned_crane.png",
        "animals/birds/cuckoo.png", "animals/birds/drake.png", "animals/birds/duck.png", "animals/birds/gander.png",
        "animals/birds/guineafowl.png", "animals/birds/helmeted_guineafowl.png", "animals/birds/hen.png",
        "animals/birds/heron_greatblue.png", "animals/birds/heron_greatblue_flying.png", "animals/birds/lark.png",
        "animals/birds/little-penguin.png", "animals/birds/magellanic_penguin.png", "animals/birds/magpie.png",
        "animals/birds/nandou.png", "animals/birds/ostrich.png", "animals/birds/owl.png",
        "animals/birds/peacock.png", "animals/birds/pelican.png", "animals/birds/penguin.png",
        "animals/birds/pigeon.png", "animals/birds/pink_flamingo.png", "animals/birds/quetzal.png",
        "animals/birds/rainbow-lorikeet.png", "animals/birds/rooster.png", "animals/birds/seagull.png",
        "animals/birds/silver-gull.png", "animals/birds/tucan.png", "animals/birds/turkey.png",
        "animals/birds/vulture.png"]],
    # the package's only cat photo is a 48-pixel black cat: few composites, kept small
    "cat": [("seasonal/halloween/blackcat.png", 10, 0.5)],
    "deer": [("animals/mammals/deer/deer.png", 9, 0.9), ("animals/mammals/deer/doe.png", 9, 0.9),
             ("animals/mammals/deer/caribou.png", 9, 0.9), ("animals/mammals/deer/wapiti.png", 9, 0.9)],
    "dog": [("animals/mammals/dogs/dog.png", 17, 0.9), ("animals/mammals/dogs/dingo.png", 17, 0.8)],
    "frog": [("animals/amphibians/frog.png", 18, 0.9), ("animals/amphibians/frog-1.png", 18, 0.9)],
    "horse": [("animals/mammals/equines/horse.png", 20, 0.9)],
    "ship": [("vehicles/ship/chineseJunk.png", 18, 0.9), ("vehicles/ship/walnutBoat.png", 18, 0.9)],
    # not vehicles/auto/truck.png (a pick-up: CIFAR-10 counts pick-ups as neither automobile nor
    # truck) nor the construction dumper
    "truck": [("vehicles/emergency/firetruck.png", 18, 0.9), ("vehicles/garbagetruck.png", 18, 0.9)],
}

# Which backgrounds suit which class (tags of BACKGROUNDS).
CLASS_TAGS = {
    "airplane": {"sky"},
    "automobile": {"road", "land"},
    "bird": {"sky", "grass", "water", "tree", "meadow", "land"},
    "cat": {"indoor", "meadow", "grass"},
    "deer": {"meadow", "land", "forest"},
    "dog": {"meadow", "land", "forest", "indoor", "road"},
    "frog": {"grass", "leaves", "water", "moss"},
    "horse": {"meadow", "land"},
    "ship": {"water"},
    "truck": {"road", "land"},
    "other": {"sky", "grass", "water", "tree", "meadow", "land", "road", "indoor", "leaves", "moss", "forest"},
}

# (short name, package, path, tags, region of the photo to crop from as fractions x0,y0,x1,y1)
BACKGROUNDS = [
    ("aitzgorri", L16, "usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg", {"meadow", "land", "sky"}, None),
    ("picosdeeuropa", L16, "usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg", {"road", "land", "meadow"}, None),
    ("life", L16, "usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg", {"water", "forest"}, None),
    ("seeding", L16, "usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg", {"meadow", "grass"}, None),
    ("sunset", L16, "usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg", {"sky", "land"}, None),
    ("bridge", L16, "usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg", {"sky", "land"}, None),
    ("dragonfly", L16, "usr/share/backgrounds/Dragonfly_by_Bolly.jpg", {"tree", "leaves"}, None),
    ("wine", L16, "usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg", {"indoor"}, None),
    ("bythewater", PLASMA, "usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg", {"water"}, None),
    ("coldripple", PLASMA, "usr/share/wallpapers/ColdRipple/contents/images/2560x1600.jpg", {"water"}, None),
    ("darkesthour", PLASMA, "usr/share/wallpapers/DarkestHour/contents/images/2560x1600.jpg", {"water"}, None),
    # the kite sits near the middle: crop from the left half only
    ("kite", PLASMA, "usr/share/wallpapers/Kite/contents/images/2560x1600.jpg", {"sky"}, (0.0, 0.0, 0.5, 1.0)),
    ("path", PLASMA, "usr/share/wallpapers/Path/contents/images/2560x1600.jpg", {"road", "forest"}, None),
    ("summer1am", PLASMA, "usr/share/wallpapers/summer_1am/contents/images/2560x1600.jpg", {"water", "sky"}, None),
    ("fallenleaf", PLASMA, "usr/share/wallpapers/FallenLeaf/contents/images/2560x1600.jpg", {"leaves"}, None),
    ("onestandsout", PLASMA, "usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg", {"moss"}, None),
    ("volna", PLASMA, "usr/share/wallpapers/Volna/contents/images/5120x2880.jpg", {"water"}, None),
    ("dune", MATE, "usr/share/backgrounds/mate/nature/Dune.jpg", {"grass", "water"}, None),
    ("greenmeadow", MATE, "usr/share/backgrounds/mate/nature/GreenMeadow.jpg", {"grass"}, None),
    ("storm", MATE, "usr/share/backgrounds/mate/nature/Storm.jpg", {"sky", "water"}, None),
    ("raindrops", MATE, "usr/share/backgrounds/mate/nature/RainDrops.jpg", {"leaves"}, None),
    ("blinds", MATE, "usr/share/backgrounds/mate/nature/Blinds.jpg", {"leaves"}, None),
    ("wood", MATE, "usr/share/backgrounds/mate/nature/Wood.jpg", {"indoor"}, None),
]

# Real photos of the classes: (class, short name, package, path, crop as fractions or None)
GC_FARM = GC_ACT + "/explore_farm_animals/resource/animals"
GC_WORLD = GC_ACT + "/explore_world_animals/resource/animals"
GC_ERASE = GC_ACT + "/erase/resource"
GC_CAT = GC_ACT + "/categorization/resource/images"
GC_MON = GC_ACT + "/explore_monuments/resource"
GC_MUSIC = GC_ACT + "/explore_world_music/resource/music"
SK_DATA = "usr/lib/python3/dist-packages/skimage/data"
REAL_CLASS = [
    ("bird", "chickens", GC, GC_FARM + "/chicken.webp", None),
    ("bird", "duck", GC, GC_FARM + "/duck.webp", None),
    ("bird", "owl", GC, GC_FARM + "/owl.webp", None),
    ("bird", "scarlet-macaw", GC, GC_WORLD + "/scarlet_macaw.webp", None),
    ("bird", "gosling", GC, GC_ERASE + "/gosling.webp", None),
    ("bird", "heron", GC, GC_ERASE + "/heron.webp", None),
    ("bird", "kingfisher", GC, GC_ERASE + "/kingfisher.webp", None),
    ("bird", "northern-harrier", GC, GC_ERASE + "/northern_harrier.webp", None),
    ("bird", "penguin", GC, GC_ERASE + "/penguin.webp", None),
    ("bird", "spoonbills", GC, GC_ERASE + "/spoonbills.webp", None),
    ("bird", "swans", GC, GC_ERASE + "/swans.webp", None),
    ("bird", "toucan", GC, GC_ERASE + "/toucan.webp", None),
    ("bird", "nuthatch", L20, "usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg", (0.28, 0.18, 0.66, 0.85)),
    ("cat", "kitten-yarn", GC, GC_FARM + "/cat.webp", None),
    ("cat", "kitten", GC, GC_ERASE + "/kitten.webp", None),
    ("cat", "chelsea", SKIMAGE, SK_DATA + "/chelsea.png", None),
    ("deer", "moose", GC, GC_WORLD + "/moose.webp", None),
    ("dog", "german-shepherd", GC, GC_FARM + "/dog.webp", None),
    ("dog", "two-spaniels", L16, "usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg", (0.10, 0.15, 0.80, 0.60)),
    ("horse", "horses", GC, GC_FARM + "/horse.webp", None),
    ("horse", "pony", GC, GC_ERASE + "/horse.webp", None),
]

# Real photos of other things: (label, package, glob, names to leave out)
REAL_OTHER = [
    # jaguar: a big cat, kept out of 'other' lest it count as a cat; moose, macaw: classes
    ("world", GC, GC_WORLD + "/*.webp", {"jaguar", "moose", "scarlet_macaw"}),
    ("farm", GC, GC_FARM + "/*.webp", {"cat", "chicken", "dog", "duck", "horse", "owl"}),
    # cheetah: a big cat, left out as the jaguar
    ("erase", GC, GC_ERASE + "/*.webp", {"cheetah", "gosling", "heron", "horse", "kingfisher", "kitten",
                                         "northern_harrier", "penguin", "spoonbills", "swans", "toucan"}),
    ("objects", GC, GC_CAT + "/others/*.webp", set()),
    ("renewable", GC, GC_CAT + "/renewable/*.webp", set()),
    ("fish", GC, GC_CAT + "/fishes/*.webp", set()),
    ("tools", GC, GC_CAT + "/tools/*.webp", set()),
    # street and harbour views that may show cars or boats are left out
    ("monument", GC, GC_MON + "/*/*.webp", {"castleClinton"}),
    # the same monuments as explore_monuments are left out, and so are street/harbour views
    ("monument", GC, GC_CAT + "/monuments/*.webp", {
        "arcDeTriomphe", "IndiaGate", "operaHouse", "usCapitol", "brandenburgGate", "christTheRedeemer",
        "colosseum", "eiffelTower", "greatPyramid", "greatWall", "kutubMinar", "mountRushmore",
        "statueOfLiberty", "tajMahal", "victoriaMemorial", "monument3"}),
    ("music", GC, GC_MUSIC + "/*.webp", set()),
    ("palapeli", PALAPELI, "usr/share/palapeli/collection/*.jpg", set()),
    ("skimage", SKIMAGE, SK_DATA + "/astronaut.png", set()),
    ("skimage", SKIMAGE, SK_DATA + "/coffee.png", set()),
    ("skimage", SKIMAGE, SK_DATA + "/rocket.jpg", set()),
    ("skimage", SKIMAGE, SK_DATA + "/camera.png", set()),
    ("skimage", SKIMAGE, SK_DATA + "/hubble_deep_field.jpg", set()),
    ("lomiri", L16, "usr/share/backgrounds/Picture_0B_by_freespace.jpg", set()),
    ("lomiri", L16, "usr/share/backgrounds/Picture_1A_by_freespace.jpg", set()),
    ("lomiri", L16, "usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg", set()),
]
# A few bare backgrounds as 'other' (landscapes in moderation): one crop each
BARE_BACKGROUNDS = ["aitzgorri", "picosdeeuropa", "life", "seeding", "path", "summer1am", "dune",
                    "greenmeadow", "wine", "bythewater"]

# Tux Paint cut-outs of other things: photo cut-outs (many colours, not tiny) in these folders
OTHER_CUTOUT_DIRS = ["food", "household", "plants", "hobbies", "sports", "medical", "people", "clothes",
                     "town/monuments", "animals/fish", "animals/insects", "animals/lizards",
                     "animals/shellfish", "animals/marsupials", "animals/mammals/apes",
                     "animals/mammals/aquatic", "animals/mammals/bears", "animals/mammals/bovines",
                     "animals/mammals/camel", "animals/mammals/rodents"]
OTHER_CUTOUT_EXTRA = ["vehicles/masstransit/green_korean_bus.png", "vehicles/flight/balloon360.png",
                      "vehicles/cycle/pink_tricycle.png", "animals/mammals/elephant.png",
                      "animals/mammals/giraffe.png", "animals/mammals/hippopotamus.png", "animals/mammals/pig.png",
                      "animals/mammals/pig_golden.png", "animals/mammals/rabbit_little.png",
                      "animals/mammals/rhino_black.png", "animals/mammals/wildboar.png",
                      "animals/mammals/badger.png", "animals/mammals/ferret.png"]
# toys of classes (rubber duck), antelopes that look like deer, drawings, mirrored duplicates
OTHER_CUTOUT_SKIP = {"rubberduck", "edward_bear", "indian_blackbuck", "measuring_tape_mirror", "pizza",
                     "propeller_hat", "feathered_hat", "inukshuk-outline", "rugby_goal_posts", "eye"}


# ---------------------------------------------------------------------------------------------
# Packages, Qt resources and licences

class Sources:
    def __init__(self, work):
        self.work = work
        self.versions = {}
        with open(os.path.join(work, "versions.tsv")) as f:
            for line in f:
                pkg, version = line.rstrip("\n").split("\t")[:2]
                self.versions[pkg] = version
        self._rcc = None
        self._readme = {}
        self._dep5 = {}

    def root(self, pkg):
        return os.path.join(self.work, "x", pkg)

    def gcompris(self):
        """All files of the GCompris activities we use, from their Qt resource (.rcc) files."""
        if self._rcc is None:
            self._rcc = {}
            for name in ["explore_farm_animals", "explore_world_animals", "erase", "categorization",
                         "explore_monuments", "explore_world_music"]:
                rcc = os.path.join(GC_RCC, name + ".rcc")
                for path, data in read_rcc(os.path.join(self.root(GC), rcc)).items():
                    self._rcc[path] = (data, rcc)
        return self._rcc

    def glob(self, pkg, pattern):
        if pkg == GC:
            return sorted(p for p in self.gcompris() if fnmatch.fnmatchcase(p, pattern))
        root = self.root(pkg)
        return sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, pattern)))

    def open(self, pkg, path):
        if pkg == GC:
            im = Image.open(io.BytesIO(self.gcompris()[path][0]))
        else:
            im = Image.open(os.path.join(self.root(pkg), path))
        im.load()
        return im

    def origin(self, pkg, path):
        """The original path as a reader can find it in the package."""
        if pkg == GC:
            return "/%s (in the Qt resource file /%s)" % (path, self.gcompris()[path][1])
        return "/" + path

    def licence(self, pkg, path):
        """(licence, author/copyright holder, note) for one file of a package."""
        base = os.path.basename(path)
        if pkg == TUX:
            return TUX_LICENCE + ("",)
        if pkg == GC:
            # the README of the image's folder or of a folder above it names the file
            folder = os.path.dirname(path)
            while folder.startswith(GC_ACT + "/"):
                key = os.path.relpath(path, folder)
                info = self.gc_readme(folder).get(GC_README_TYPOS.get(key, key))
                if info is not None:
                    return (spdx(info.get("license", "")), info.get("copyright", ""), info.get("source", ""))
                folder = os.path.dirname(folder)
            return ("GPL-3.0-or-later", "GCompris developers (Debian copyright, Files: *)",
                    "not named in the README beside it: the package's licence")
        if pkg in (L16, L20, MATE):
            lic, holder = self.dep5(pkg, path)
            return (spdx(lic), holder, "")
        if pkg == PLASMA:
            name = path.split("/")[3]
            meta = json.load(open(os.path.join(self.root(pkg), "usr/share/wallpapers", name, "metadata.json")))
            kp = meta.get("KPlugin", {})
            author = ", ".join(a.get("Name", "") for a in kp.get("Authors", []))
            return ("GPL-2.0-or-later (Debian copyright); upstream metadata: %s" % kp.get("License", "?"),
                    author, "")
        if pkg == SKIMAGE:
            return SKIMAGE_DATA[base]
        if pkg == PALAPELI:
            desk = open(os.path.join(self.root(pkg), path[:-4] + ".desktop"), encoding="utf-8").read()
            field = lambda k: (re.search(r"^%s=(.*)$" % k, desk, re.M) or [None, ""])[1]
            return ("GPL-2.0-or-later (Debian copyright, Files: *); upstream: %s" % field("X-KDE-PluginInfo-License"),
                    field("X-KDE-PluginInfo-Author"), field("X-KDE-PluginInfo-Website"))
        raise KeyError(pkg)

    def gc_readme(self, folder):
        """GCompris' README next to the images: blocks of Copyright/License/Source/Files."""
        if folder not in self._readme:
            entry = self.gcompris().get(folder + "/README")
            table = {}
            if entry:
                for block in re.split(r"\n\s*\n", entry[0].decode("utf-8")):
                    info, files, key = {}, [], None
                    for line in block.splitlines():
                        m = re.match(r"^\s*(Copyright|License|Licence|Source|Files|Comments)\s*:\s*(.*)$", line)
                        if m:
                            key = m.group(1).lower().replace("licence", "license")
                            if key == "files":
                                files += m.group(2).split()
                            else:
                                info[key] = m.group(2).strip()
                        elif key == "files" and line.strip():
                            files += line.split()
                    for f in files:
                        table[f.rstrip(":")] = info
            self._readme[folder] = table
        return self._readme[folder]

    def dep5(self, pkg, path):
        """Debian's machine-readable copyright file: the last Files paragraph matching path."""
        if pkg not in self._dep5:
            doc = os.path.join(self.root(pkg), "usr/share/doc", pkg, "copyright")
            paras = []
            for para in re.split(r"\n\s*\n", open(doc, encoding="utf-8").read()):
                fields, key = {}, None
                for line in para.splitlines():
                    m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                    if m:
                        key = m.group(1).lower()
                        fields[key] = m.group(2).strip()
                    elif key and line.startswith(" "):
                        fields[key] += "\n" + line.strip()
                if "files" in fields:
                    paras.append((fields["files"].split(), fields.get("license", "").split("\n")[0],
                                  " ".join(fields.get("copyright", "").split())))
            self._dep5[pkg] = paras
        found = ("?", "?")
        for patterns, lic, holder in self._dep5[pkg]:
            for pat in patterns:
                if (pat == "*" or fnmatch.fnmatchcase(path, "*/" + pat)
                        or fnmatch.fnmatchcase(os.path.basename(path), os.path.basename(pat))
                        and "/" in pat and pat.split("/")[-1] != "*"):
                    found = (lic, holder)
        return found


# file names that GCompris' READMEs misspell
GC_README_TYPOS = {"screwDriver.webp": "screDriver.webp"}

SKIMAGE_DATA = {
    "chelsea.png": ("CC0-1.0", "Stefan van der Walt (photographer)", "skimage.data.chelsea docstring"),
    "coffee.png": ("CC0-1.0", "Rachel Michetti (photographer), courtesy of Pikolo Espresso Bar",
                   "skimage.data.coffee docstring"),
    "astronaut.png": ("public domain (NASA)", "NASA", "skimage.data.astronaut docstring"),
    "rocket.jpg": ("public domain (SpaceX)", "SpaceX", "skimage.data.rocket docstring"),
    "camera.png": ("CC0-1.0", "Lav Varshney (photographer)", "skimage.data.camera docstring"),
    "hubble_deep_field.jpg": ("public domain (NASA)", "NASA", "skimage.data.hubble_deep_field docstring"),
}
SKIMAGE_PACKAGE_LICENCE = "BSD-3-Clause (package, 2009-2018 the scikit-image team)"


def spdx(text):
    t = text.strip()
    table = {"cc0-1.0": "CC0-1.0", "cc0": "CC0-1.0", "public domain": "public domain",
             "cc-by-sa 4.0": "CC-BY-SA-4.0", "cc-by-sa-4.0": "CC-BY-SA-4.0", "cc-by-2.0": "CC-BY-2.0",
             "cc-by 2.0": "CC-BY-2.0", "cc-by-3.0": "CC-BY-3.0", "cc-by 3.0": "CC-BY-3.0",
             "cc-by-4.0": "CC-BY-4.0", "cc-by-sa-3.0": "CC-BY-SA-3.0", "gpl-2+": "GPL-2.0-or-later",
             "gplv2+": "GPL-2.0-or-later", "gplv3": "GPL-3.0-only", "gpl-3+": "GPL-3.0-or-later"}
    return table.get(t.lower(), t)


def read_rcc(path):
    """The files of a Qt resource (.rcc) file: {path: bytes}."""
    b = open(path, "rb").read()
    if b[:4] != b"qres":
        raise ValueError("%s: not a Qt resource file" % path)
    version, tree, data, names = struct.unpack(">IIII", b[4:20])
    size = 14 if version < 2 else 22
    out = {}

    def name(off):
        p = names + off
        n = struct.unpack(">H", b[p:p + 2])[0]
        return b[p + 6:p + 6 + 2 * n].decode("utf-16-be")

    def walk(i, prefix):
        p = tree + i * size
        noff, flags = struct.unpack(">IH", b[p:p + 6])
        nm = name(noff) if i else ""
        if flags & 2:
            count, first = struct.unpack(">II", b[p + 6:p + 14])
            for k in range(count):
                walk(first + k, prefix + nm + "/" if i else prefix)
        else:
            doff = struct.unpack(">I", b[p + 10:p + 14])[0]
            q = data + doff
            n = struct.unpack(">I", b[q:q + 4])[0]
            raw = b[q + 4:q + 4 + n]
            if flags & 1:
                raw = zlib.decompress(raw[4:])
            elif flags & 4:
                raise ValueError("%s: zstd-compressed resources are not supported" % path)
            out[(prefix + nm).lstrip("/")] = raw

    walk(0, "")
    return out


# ---------------------------------------------------------------------------------------------
# Image work

def rgb(im, matte=(255, 255, 255)):
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "P", "PA"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, matte + (255,))
        bg.alpha_composite(im)
        im = bg
    return im.convert("RGB")


def crop_frac(im, box):
    if not box:
        return im
    w, h = im.size
    return im.crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))


def fit_long(im, long_side):
    w, h = im.size
    s = long_side / max(w, h)
    if s >= 1:
        return im
    return im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)


def save_jpeg(im, path, quality=JPEG_QUALITY):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    im.save(path, "JPEG", quality=quality, optimize=True)


def cutout(im):
    """A Tux Paint stamp as RGBA trimmed to its visible part."""
    im = im.convert("RGBA")
    box = im.getchannel("A").point(lambda a: 255 if a > 8 else 0).getbbox()
    return im.crop(box) if box else im


def frame_size(rng, aspect):
    """Output size for a composite of an object of aspect w/h."""
    if aspect < 0.75:
        return rng.choice([(288, 384), (320, 320)])
    if aspect > 1.6:
        return rng.choice([(384, 288), (384, 256), (320, 320)])
    return rng.choice([(384, 288), (320, 320), (384, 256), (288, 384)])


def background_crop(rng, bg, region, size):
    """A random crop of a background photo (inside region), resized to size."""
    W, H = size
    im = crop_frac(bg, region)
    w, h = im.size
    target = W / H
    # the largest crop of that aspect, then zoom in by up to 2.2×
    cw, ch = (w, w / target) if w / h < target else (h * target, h)
    z = rng.uniform(0.45, 1.0)
    cw, ch = cw * z, ch * z
    x = rng.uniform(0, w - cw)
    y = rng.uniform(0, h - ch)
    return im.resize((W, H), Image.LANCZOS, box=(x, y, x + cw, y + ch))


def composite(rng, obj, bg, region, fill_max=0.9):
    """obj (RGBA cut-out) pasted onto a crop of bg; returns (image, parameters)."""
    size = frame_size(rng, obj.width / obj.height)
    W, H = size
    canvas = background_crop(rng, bg, region, size)
    S = min(W, H)  # the network sees the centred square by default: size the object on it
    fill = rng.uniform(0.35, fill_max)
    s = fill * S / max(obj.size)
    ow, oh = max(1, round(obj.width * s)), max(1, round(obj.height * s))
    o = obj.resize((ow, oh), Image.LANCZOS)
    flip = rng.random() < 0.5
    if flip:
        o = ImageOps.mirror(o)
    # soften the cut edge a little
    a = o.getchannel("A").filter(ImageFilter.GaussianBlur(0.6))
    o.putalpha(a)
    cx = W / 2 + rng.uniform(-1, 1) * max(0, S - ow) / 2 * 0.8
    cy = H / 2 + rng.uniform(-1, 1) * max(0, S - oh) / 2 * 0.8
    x, y = round(cx - ow / 2), round(cy - oh / 2)
    out = canvas.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    layer.paste(o, (x, y))
    out.alpha_composite(layer)
    return out.convert("RGB"), dict(size=size, fill=fill, flip=flip)


# ---------------------------------------------------------------------------------------------
# The dev set

def other_cutouts(src):
    root = os.path.join(src.root(TUX), TUX_STAMPS)
    found = []
    for d in OTHER_CUTOUT_DIRS:
        for p in sorted(glob.glob(os.path.join(root, d, "**", "*.png"), recursive=True)):
            rel = os.path.relpath(p, root)
            if "cartoon" in rel or "/toys/" in rel:
                continue
            found.append(rel)
    found += OTHER_CUTOUT_EXTRA
    keep = []
    for rel in found:
        name = os.path.splitext(os.path.basename(rel))[0]
        if name in OTHER_CUTOUT_SKIP:
            continue
        im = cutout(Image.open(os.path.join(root, rel)))
        if max(im.size) < 90:
            continue  # too small to show at a few hundred pixels
        colours = len(im.convert("RGB").resize((96, 96)).getcolors(96 * 96))
        if colours < 1000:
            continue  # a drawing, not a photo
        keep.append(rel)
    return keep


class Record:
    def __init__(self, out_dir):
        self.out = out_dir
        self.rows = []

    def add(self, rel, kind, parts):
        """parts: [(role, package, version, original path, licence, holder, note)]"""
        if any(r[0] == rel for r in self.rows):
            raise SystemExit("two photos would be %s" % rel)
        self.rows.append((rel, kind, parts))


def load_backgrounds(src):
    bgs = {}
    for name, pkg, path, tags, region in BACKGROUNDS:
        bgs[name] = (rgb(src.open(pkg, path)), pkg, path, tags, region)
    return bgs


def part(src, role, pkg, path):
    lic, holder, note = src.licence(pkg, path)
    if pkg == SKIMAGE:
        note = (note + "; " if note else "") + "package licence " + SKIMAGE_PACKAGE_LICENCE
    return (role, pkg, src.versions.get(pkg, "?"), src.origin(pkg, path), lic, holder, note)


def build(work, out):
    src = Sources(work)
    rec = Record(out)
    tux_root = os.path.join(src.root(TUX), TUX_STAMPS)
    bgs = load_backgrounds(src)

    def pick_bg(rng, cls):
        names = [n for n, b in bgs.items() if b[3] & CLASS_TAGS[cls]]
        return names[rng.randrange(len(names))]

    # real photos of the classes
    for cls, short, pkg, path, box in REAL_CLASS:
        im = fit_long(crop_frac(rgb(src.open(pkg, path)), box), LONG_SIDE)
        rel = "%s/real-%s.jpg" % (cls, short)
        save_jpeg(im, os.path.join(out, rel))
        rec.add(rel, "real photo" + (" (cropped)" if box else ""), [part(src, "photo", pkg, path)])

    # composites of the classes
    for cls, items in CLASS_CUTOUTS.items():
        for path, count, fill_max in items:
            obj = cutout(Image.open(os.path.join(tux_root, path)))
            stem = os.path.splitext(os.path.basename(path))[0]
            for k in range(count):
                rng = random.Random("%s:%s:%s:%d" % (SEED, cls, path, k))
                bname = pick_bg(rng, cls)
                bg, bpkg, bpath, _, region = bgs[bname]
                im, _ = composite(rng, obj, bg, region, fill_max)
                rel = "%s/comp-%s-%s-%02d.jpg" % (cls, stem, bname, k)
                save_jpeg(im, os.path.join(out, rel))
                rec.add(rel, "composite", [part(src, "cut-out", TUX, TUX_STAMPS + "/" + path),
                                           part(src, "background", bpkg, bpath)])

    # other: real photos
    for label, pkg, pattern, skip in REAL_OTHER:
        files = src.glob(pkg, pattern)
        if not files:
            raise SystemExit("no file matches %s in %s" % (pattern, pkg))
        for path in files:
            stem = os.path.splitext(os.path.basename(path))[0]
            if stem in skip:
                continue
            im = fit_long(rgb(src.open(pkg, path)), LONG_SIDE)
            rel = "other/real-%s-%s.jpg" % (label, stem)
            save_jpeg(im, os.path.join(out, rel))
            rec.add(rel, "real photo", [part(src, "photo", pkg, path)])
    # other: bare backgrounds
    for name in BARE_BACKGROUNDS:
        bg, bpkg, bpath, _, region = bgs[name]
        rng = random.Random("%s:bare:%s" % (SEED, name))
        im = background_crop(rng, bg, region, rng.choice([(384, 288), (320, 320)]))
        rel = "other/bare-%s.jpg" % name
        save_jpeg(im, os.path.join(out, rel))
        rec.add(rel, "real photo (crop of a background)", [part(src, "photo", bpkg, bpath)])
    # other: composites of Tux Paint cut-outs of other things
    for path in other_cutouts(src):
        obj = cutout(Image.open(os.path.join(tux_root, path)))
        stem = os.path.splitext(os.path.basename(path))[0]
        rng = random.Random("%s:other:%s" % (SEED, path))
        bname = pick_bg(rng, "other")
        bg, bpkg, bpath, _, region = bgs[bname]
        im, _ = composite(rng, obj, bg, region, 0.9)
        rel = "other/comp-%s-%s.jpg" % (stem, bname)
        save_jpeg(im, os.path.join(out, rel))
        rec.add(rel, "composite", [part(src, "cut-out", TUX, TUX_STAMPS + "/" + path),
                                   part(src, "background", bpkg, bpath)])

    write_sources(src, rec, out)
    return rec


def count(rec, folder, kind_prefix):
    return sum(1 for rel, kind, _ in rec.rows if rel.split("/")[0] == folder and kind.startswith(kind_prefix))


def write_sources(src, rec, out):
    lines = ["# Sources of this photo set",
             "",
             "Built by `scripts/photo-devset.sh` from Debian packages (fetched with `apt-get download`).",
             "No CIFAR pixels. *real photo*: a photograph with its own background (resized; cropped where",
             "said). *composite*: a photo cut-out (transparent background) from Tux Paint's stamps pasted,",
             "scaled to 35–90% of the centred square, placed and mirrored at random (fixed seed), onto a",
             "random crop of a photographic wallpaper.",
             "",
             "## Packages",
             ""]
    for pkg in sorted(src.versions):
        lines.append("- %s %s" % (pkg, src.versions[pkg]))
    lines += ["", "## Counts", "", "| folder | real photos | composites | total |", "| --- | --- | --- | --- |"]
    for folder in CLASSES + ["other"]:
        r, c = count(rec, folder, "real"), count(rec, folder, "composite")
        lines.append("| %s | %d | %d | %d |" % (folder, r, c, r + c))
    tr = sum(count(rec, f, "real") for f in CLASSES)
    tc = sum(count(rec, f, "composite") for f in CLASSES)
    lines.append("| all ten classes | %d | %d | %d |" % (tr, tc, tr + tc))
    lines += ["", "## Files", "",
              "Each file: kind, then each original as package version: path — licence — author/copyright holder.",
              ""]
    for rel, kind, parts in sorted(rec.rows):
        lines.append("- `%s` (%s)" % (rel, kind))
        for role, pkg, ver, path, lic, holder, note in parts:
            extra = (" — %s" % note) if note else ""
            lines.append("  - %s: %s %s: `%s` — %s — %s%s" % (role, pkg, ver, path, lic, holder, extra))
    with open(os.path.join(out, "SOURCES.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# The page's samples (www/samples): real photos where the class has one whose licence suits a
# public repository (CC0, public domain, CC-BY), composites of GPL cut-outs on GPL/CC0 wallpapers
# for the classes without one.

SAMPLES = [
    # (file, class, caption, kind, spec)
    ("cat-chelsea.jpg", "cat", "Chelsea the tabby cat, close up", "real", (SKIMAGE, SK_DATA + "/chelsea.png", None)),
    ("dog-shepherd.jpg", "dog", "German shepherd on a lawn", "real", (GC, GC_FARM + "/dog.webp", None)),
    ("horse-herd.jpg", "horse", "Horses on a prairie", "real", (GC, GC_FARM + "/horse.webp", None)),
    ("bird-kingfisher.jpg", "bird", "Kingfisher on a branch", "real", (GC, GC_ERASE + "/kingfisher.webp", None)),
    ("deer-moose.jpg", "deer", "Bull moose resting in grass", "real", (GC, GC_WORLD + "/moose.webp", None)),
    ("airplane-747.jpg", "airplane", "Jumbo jet in a blue sky", "composite",
     ("vehicles/flight/planes/747.png", "kite", 3, False)),
    ("automobile-sedan.jpg", "automobile", "Car on a forest path", "composite",
     ("vehicles/auto/sedan.png", "path", 1, True)),
    ("ship-junk.jpg", "ship", "Chinese junk on a lake at dusk", "composite",
     ("vehicles/ship/chineseJunk.png", "summer1am", 0, False)),
    ("truck-firetruck.jpg", "truck", "Fire engine on a forest track", "composite",
     ("vehicles/emergency/firetruck.png", "path", 2, True)),
    ("frog-grass.jpg", "frog", "Frog in the grass", "composite",
     ("animals/amphibians/frog.png", "greenmeadow", 0, False)),
    ("cat-kitten.jpg", "cat", "Kitten playing with yarn", "real", (GC, GC_FARM + "/cat.webp", None)),
    ("bird-macaw.jpg", "bird", "Scarlet macaw on a perch", "real", (GC, GC_WORLD + "/scarlet_macaw.webp", None)),
]
SAMPLE_LONG = 320
SAMPLE_MAX_BYTES = 25000


def sample_composite(src, bgs, path, bname, variant, ground):
    """A composite for the page: like the dev set's, but the object larger and nearer the middle."""
    obj = cutout(Image.open(os.path.join(src.root(TUX), TUX_STAMPS, path)))
    bg, bpkg, bpath, _, region = bgs[bname]
    rng = random.Random("%s:sample:%s:%s:%d" % (SEED, path, bname, variant))
    W, H = (320, 240)
    canvas = background_crop(rng, bg, region, (W, H))
    S = min(W, H)
    fill = rng.uniform(0.7, 0.85)
    s = fill * (S if obj.width <= obj.height * 1.4 else W * 0.95) / max(obj.size)
    ow, oh = round(obj.width * s), round(obj.height * s)
    o = obj.resize((ow, oh), Image.LANCZOS)
    if rng.random() < 0.5:
        o = ImageOps.mirror(o)
    o.putalpha(o.getchannel("A").filter(ImageFilter.GaussianBlur(0.6)))
    x = round(W / 2 - ow / 2 + rng.uniform(-0.1, 0.1) * (W - ow))
    if ground:  # standing on the ground near the bottom of the picture
        y = round(H * rng.uniform(0.9, 0.95) - oh)
    else:
        y = round(H / 2 - oh / 2 + rng.uniform(0, 0.3) * (H - oh) / 2)
    out = canvas.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    layer.paste(o, (x, y))
    out.alpha_composite(layer)
    return out.convert("RGB"), (bpkg, bpath)


def save_small(im, path):
    for q in range(88, 40, -4):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=q, optimize=True, progressive=True)
        if buf.tell() <= SAMPLE_MAX_BYTES:
            break
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return q, buf.tell()


def samples(work, out):
    src = Sources(work)
    bgs = load_backgrounds(src)
    os.makedirs(out, exist_ok=True)
    index, notes = [], []
    for fname, cls, caption, kind, spec in SAMPLES:
        if kind == "real":
            pkg, path, box = spec
            orig = src.open(pkg, path)
            im = fit_long(crop_frac(rgb(orig), box), SAMPLE_LONG)
            q, n = save_small(im, os.path.join(out, fname))
            parts = [part(src, "photo", pkg, path)]
            change = "resized from %d×%d to %d×%d%s, saved as JPEG (quality %d)" % (
                orig.width, orig.height, im.width, im.height, ", cropped" if box else "", q)
        else:
            path, bname, variant, ground = spec
            im, (bpkg, bpath) = sample_composite(src, bgs, path, bname, variant, ground)
            q, n = save_small(im, os.path.join(out, fname))
            parts = [part(src, "cut-out", TUX, TUX_STAMPS + "/" + path), part(src, "background", bpkg, bpath)]
            change = ("the cut-out (transparent background) scaled and pasted onto a crop of the background "
                      "photo, edge softened, %d×%d, saved as JPEG (quality %d)" % (im.width, im.height, q))
        index.append({"file": fname, "class": cls, "caption": caption, "credit": credit(parts)})
        notes.append((fname, cls, kind, parts, change, n))
    with open(os.path.join(out, "samples.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=2, ensure_ascii=False)
        f.write("\n")
    write_sample_licences(out, notes)


def credit(parts):
    """One line for the page: whose work the sample is, under which licence (LICENSES.md has
    the rest). A composite names both of its parts."""
    def who(holder, lic):
        return "%s, %s" % (holder, lic)
    if len(parts) == 1:
        _, _, _, _, lic, holder, _ = parts[0]
        return "Photo: " + who(holder, lic)
    return "; ".join("%s: %s" % (role.capitalize(), who(holder, lic)) for role, _, _, _, lic, holder, _ in parts)


def write_sample_licences(out, notes):
    lines = ["# Sample photos: sources and licences", "",
             "Made by `scripts/photo_devset.py samples` (run by hand after `scripts/photo-devset.sh`;",
             "see that script) from Debian bookworm packages. Real photographs where a class has one",
             "under a licence fit for a public repository; for the classes without one, a composite:",
             "a Tux Paint photo cut-out pasted onto a photographic wallpaper. A composite is a collage",
             "of two works: each part keeps its own licence, as given below. For GCompris' photos the",
             "author, licence and source are those of the README beside the image in the same Qt resource",
             "file (Debian's copyright file gives GPL-3.0-or-later for the package as a whole).", ""]
    for fname, cls, kind, parts, change, n in notes:
        lines.append("## %s" % fname)
        lines.append("")
        lines.append("- class: %s; %s" % (cls, "real photograph" if kind == "real" else "composite"))
        for role, pkg, ver, path, lic, holder, note in parts:
            lines.append("- %s: Debian package `%s` %s, file `%s`" % (role, pkg, ver, path))
            lines.append("  - author / copyright holder: %s" % holder)
            lines.append("  - licence: %s" % lic)
            if note:
                lines.append("  - source / note: %s" % note)
        lines.append("- changes: %s" % change)
        lines.append("")
    lines += ["## Licence texts", "",
              "- CC0-1.0: https://creativecommons.org/publicdomain/zero/1.0/",
              "- GPL-2.0-or-later: https://www.gnu.org/licenses/old-licenses/gpl-2.0.html "
              "(also /usr/share/common-licenses/GPL-2 on Debian)",
              "- LGPL-3.0: https://www.gnu.org/licenses/lgpl-3.0.html",
              "- public domain: released into the public domain by the author, or a work of the US government",
              "  (NASA, US Fish and Wildlife Service), as the package's README or docstring states",
              "- the packages' own copyright files: /usr/share/doc/PACKAGE/copyright in each .deb",
              ""]
    with open(os.path.join(out, "LICENSES.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("build", "samples"):
        sys.exit("usage: photo_devset.py build|samples WORK DIR")
    if sys.argv[1] == "build":
        rec = build(sys.argv[2], sys.argv[3])
        n_cls = sum(1 for rel, _, _ in rec.rows if rel.split("/")[0] in CLASSES)
        n_other = sum(1 for rel, _, _ in rec.rows if rel.startswith("other/"))
        print("%d photos of the classes, %d of other things in %s" % (n_cls, n_other, sys.argv[3]),
              file=sys.stderr)
    else:
        samples(sys.argv[2], sys.argv[3])
