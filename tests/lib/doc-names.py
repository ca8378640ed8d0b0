#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Prints, one a line, the names the documentation must cover, read from the code itself (so that a verb, key or
# field added to the code and not to the docs fails tests/integration/test-docs.sh):
#   doc-names.py SRCDIR verbs          ballastctl's verbs (its verbs[] table) and update's sub-verbs ("update pin")
#   doc-names.py SRCDIR options        ballastctl's long options (its struct option table), as --NAME
#   doc-names.py SRCDIR config-keys    every leaf key of ballast.json, dotted (config.c's JsonField tables)
#   doc-names.py SRCDIR spec-fields    every leaf field of a service spec, dotted (spec.c's JsonField tables)
#   doc-names.py SRCDIR message-ids    every MESSAGE_ID the code defines (#define ..._MESSAGE_... "32 hex digits")
# Arrays of objects are written NAME[].KEY. Exits 1 when it finds nothing: a change of the code's shape must
# not make the check pass by checking nothing.
import os
import re
import sys

ENTRY = re.compile(r'\{\s*"([A-Za-z0-9_]+)"\s*,\s*([A-Za-z0-9_]+)\s*,')


def read(srcdir, path):
    with open(os.path.join(srcdir, path), encoding='utf-8') as f:
        return f.read()


def block(text, start):
    """The text from start to the brace that closes the first brace after it."""
    i = text.index('{', start)
    depth = 0
    for j in range(i, len(text)):
        if text[j] == '{':
            depth += 1
        elif text[j] == '}':
            depth -= 1
            if depth == 0:
                return text[i:j + 1]
    return text[i:]


def tables(text):
    """Dispatch function (or table) name -> [(key, dispatch function)], and function name -> body."""
    result, bodies = {}, {}
    # static int FN(const char *path, json_t *v, void *target, JsonError *e) { ... }
    for m in re.finditer(r'^(?:static )?int (\w+)\(const char \*path, json_t \*v, void \*target, JsonError \*e\)\s*\{',
                         text, re.M):
        body = block(text, m.end() - 1)
        bodies[m.group(1)] = body
        t = re.search(r'static const JsonField \w+\[\] = ', body)
        if t:
            result[m.group(1)] = ENTRY.findall(block(body, t.end()))
    # NESTED(FN, { "key", fn, ... }, ...)
    for m in re.finditer(r'^NESTED\((\w+),', text, re.M):
        end = text.index(')\n', m.end())
        result[m.group(1)] = ENTRY.findall(text[m.end():end])
    # static const JsonField NAME[] = { ... };
    for m in re.finditer(r'^static const JsonField (\w+)\[\] = ', text, re.M):
        result[m.group(1)] = ENTRY.findall(block(text, m.end()))
    return result, bodies


def leaves(text, root):
    result, bodies = tables(text)

    def table_of(fn):
        if fn in result:
            return result[fn]
        # a dispatcher that checks and hands over to another one (dispatch_updates → dispatch_updates_fields)
        for callee in re.findall(r'\b(dispatch_\w+)\(', bodies.get(fn, '')):
            if callee != fn and callee in result:
                return result[callee]
        return None

    out = []

    def walk(prefix, fn, seen):
        for key, sub in result[fn] if fn == root else table_of(fn):
            name = prefix + key
            sub_table = table_of(sub)
            if sub_table is None or sub in seen:
                out.append(name)
                continue
            # an array of objects: the dispatcher walks json_array_foreach over its own table
            arr = '[]' if 'json_array_foreach' in bodies.get(sub, '') else ''
            walk(name + arr + '.', sub, seen | {sub})

    walk('', root, {root})
    return out


def main():
    srcdir, what = sys.argv[1], sys.argv[2]
    if what in ('verbs', 'options'):
        text = read(srcdir, 'src/ctl/ballastctl.c')
        if what == 'verbs':
            names = re.findall(r'\{\s*"([a-z-]+)"\s*,\s*-?\d+\s*,\s*-?\d+\s*,\s*verb_\w+\s*[,}]', text)
            upd = read(srcdir, 'src/ctl/ctl-update.c')
            m = re.search(r'int verb_update\(', upd)
            subs = sorted(set(re.findall(r'streq\(sub, "([a-z-]+)"\)', block(upd, m.end())))) if m else []
            names += ['update ' + s for s in subs]
        else:
            m = re.search(r'static const struct option options\[\] = ', text)
            names = ['--' + n for n in re.findall(r'\{\s*"([a-z-]+)"\s*,\s*\w+_argument', block(text, m.end()))] if m else []
    elif what == 'config-keys':
        names = leaves(read(srcdir, 'src/daemon/config.c'), 'config_table')
    elif what == 'spec-fields':
        # spec.c's table, with the dispatchers of the parser's other files (spec-health.c, spec-sources.c, ...):
        # every src/supervisor/spec*.c, so that a dispatcher moved to a new file is still walked
        spec_files = sorted(f for f in os.listdir(os.path.join(srcdir, 'src/supervisor'))
                            if f.startswith('spec') and f.endswith('.c'))
        names = leaves(''.join(read(srcdir, 'src/supervisor/' + f) for f in spec_files), 'spec_table')
    elif what == 'message-ids':
        names = []
        for d, _, files in os.walk(os.path.join(srcdir, 'src')):
            for f in sorted(files):
                if f.endswith(('.c', '.h')):
                    with open(os.path.join(d, f), encoding='utf-8') as fh:
                        names += re.findall(r'^#define \w*MESSAGE\w* "([0-9a-f]{32})"', fh.read(), re.M)
    else:
        sys.exit('doc-names.py: unknown list ' + what)
    if not names:
        sys.exit('doc-names.py: found no ' + what + ' in the sources: has their shape changed?')
    for n in dict.fromkeys(names):
        print(n)


main()
