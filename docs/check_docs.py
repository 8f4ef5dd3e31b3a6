#!/usr/bin/python3
"""The documentation builds cleanly and covers the whole API.

    check_docs.py SOURCE_DIR DOXYGEN

1. Doxygen (docs/api/Doxyfile.in) over include/i2igalip.h gives zero warnings.
2. Its XML lists every function the header declares with I2IG_API, each with
   a description (independent of Doxygen's own undocumented-member warning).
3. Every relative link in the Markdown documents points to an existing file.
Exit status 0 when all hold; every problem is printed.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


def text(el):
    return "".join(el.itertext()).strip() if el is not None else ""


def doxygen(src, exe, out):
    conf = open(os.path.join(src, "docs", "api", "Doxyfile.in")).read()
    conf = conf.replace("@VERSION@", "check").replace("@SOURCE@", src).replace("@OUTPUT@", out)
    path = os.path.join(out, "Doxyfile")
    with open(path, "w") as f:
        f.write(conf)
    r = subprocess.run([exe, path], capture_output=True, text=True)
    problems = []
    if r.returncode != 0:
        problems.append("doxygen exited with %d: %s" % (r.returncode, r.stderr.strip()))
    log = os.path.join(out, "warnings.log")
    warnings = open(log).read().strip() if os.path.exists(log) else "no warnings.log written"
    if warnings:
        problems += ["doxygen: " + w for w in warnings.splitlines()]
    if not os.path.exists(os.path.join(out, "html", "index.html")):
        problems.append("no html/index.html")
    return problems


def coverage(src, out):
    header = open(os.path.join(src, "include", "i2igalip.h")).read()
    declared = set(re.findall(r"I2IG_API[^;(]*?\b(i2ig_\w+)\s*\(", header))
    documented = {}
    xml = os.path.join(out, "xml", "i2igalip_8h.xml")
    if not os.path.exists(xml):
        return ["no XML for i2igalip.h"], 0
    for m in ET.parse(xml).iter("memberdef"):
        if m.get("kind") == "function":
            desc = text(m.find("briefdescription")) + text(m.find("detaileddescription"))
            documented[text(m.find("name"))] = bool(desc)
    problems = ["%s: not in the API reference" % n for n in sorted(declared - set(documented))]
    problems += ["%s: no description" % n for n in sorted(declared) if n in documented and
                 not documented[n]]
    return problems, len(declared)


def links(src):
    problems, count = [], 0
    docs = glob.glob(os.path.join(src, "docs", "**", "*.md"), recursive=True) + [
        os.path.join(src, "README.md"), os.path.join(src, "bindings", "python", "README.md")]
    for doc in docs:
        body = open(doc, encoding="utf-8").read()
        body = re.sub(r"```.*?```", "", body, flags=re.S)  # code blocks hold no links
        for target in re.findall(r"\]\(([^)\s]+)\)", body):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            count += 1
            path = os.path.normpath(os.path.join(os.path.dirname(doc), target.split("#")[0]))
            if not os.path.exists(path):
                problems.append("%s: broken link %s" % (os.path.relpath(doc, src), target))
    return problems, count


def main():
    src, exe = os.path.abspath(sys.argv[1]), sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="i2ig-docs-") as out:
        try:
            problems = doxygen(src, exe, out)
        except OSError as e:
            print("FAIL: cannot run doxygen (%s): install Debian's doxygen "
                  "(tools/setup-debian.sh test)" % e)
            return 1
        cov, nfun = coverage(src, out)
        problems += cov
    lp, nlinks = links(src)
    problems += lp
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print("OK: doxygen 0 warnings; %d public functions, each documented; %d relative links "
              "resolve" % (nfun, nlinks))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
