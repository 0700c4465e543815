#!/usr/bin/env python3
"""test_hostile.py AITAG SOURCE_DIR: the aitag command against hostile inputs, files and signals.

Each case tries what a careless user or an attacker could: an output path that is an input, a
device or a FIFO where a file is expected, a signal in the middle of training, a standard input
left non-blocking, a closed pipe, malformed JSON, numbers that a double would alter. Every case
states what must happen; one "ok"/"FAIL" line each; exit 1 if any failed. Works in a temporary
folder and trains its own small models; anyone can rerun it:

    python3 tests/cli/test_hostile.py build/aitag .
"""
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

AITAG = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
TRAIN = os.path.join(SRC, 'tests', 'data', 'cli', 'train.jsonl')
ENV = dict(os.environ, LC_ALL='C', AITAG_MODEL='/nonexistent/default.aitag')

failed = 0
count = 0


def check(what, cond, detail=''):
    global failed, count
    count += 1
    if cond:
        print('ok   %d - %s' % (count, what))
    else:
        failed += 1
        print('FAIL %d - %s' % (count, what))
        if detail:
            print('     ' + detail.replace('\n', '\n     ')[:2000])


def run(args, stdin=None, inp=None, timeout=60, env=None):
    """Runs aitag ARGS; returns (status, stdout, stderr) as text; status None on a timeout."""
    try:
        p = subprocess.run([AITAG] + args, input=inp, stdin=stdin, capture_output=True, timeout=timeout,
                           env=env or ENV)
        return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired as e:
        return None, '', 'timed out after %s s' % e.timeout


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def no_dup_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError('duplicate keys: %s' % keys)
    return dict(pairs)


def temps_beside(path):
    d, b = os.path.split(path)
    return [n for n in os.listdir(d or '.') if n.startswith(b + '.tmp.')]


def big_corpus(path, docs, labels):
    """A corpus that takes seconds to train with --search-C (many labels, many jobs)."""
    words = ['w%d' % i for i in range(4000)]
    with open(path, 'w') as f:
        for i in range(docs):
            text = ' '.join(words[(i * 7 + k * 13) % len(words)] for k in range(60))
            labs = ['L%d' % (i % labels), 'L%d' % ((i * 3 + 1) % labels)]
            f.write(json.dumps({'id': i, 'text': text, 'labels': labs}) + '\n')


def main():
    tmp = tempfile.mkdtemp(prefix='aitag-hostile.')
    os.chdir(tmp)
    model = os.path.join(tmp, 'm.aitag')
    rc, out, err = run(['train', '-q', '--min-df', '1', '--folds', '0', '-i', TRAIN, '-o', model])
    if rc != 0:
        print('FAIL - setup: training the small model: ' + err)
        return 1
    corpus = os.path.join(tmp, 'corpus.jsonl')
    with open(corpus, 'wb') as f:
        f.write(read(TRAIN))
    before = read(corpus)

    # ---- an output that is an input ----------------------------------------
    rc, out, err = run(['train', '-q', '-i', corpus, '-o', corpus])
    check('train -i X -o X is refused and X is untouched', rc == 1 and read(corpus) == before, err)
    os.symlink(corpus, 'link.jsonl')
    rc, out, err = run(['train', '-q', '-i', corpus, '-o', 'link.jsonl'])
    check('train -o SYMLINK-TO-INPUT is refused', rc == 1 and read(corpus) == before and 'same file' in err, err)
    os.link(corpus, 'hard.jsonl')
    rc, out, err = run(['train', '-q', '-i', 'hard.jsonl', '-o', corpus])
    check('train -o HARDLINK-OF-INPUT is refused', rc == 1 and read(corpus) == before, err)
    with open(corpus, 'rb') as f:
        rc, out, err = run(['train', '-q', '-i', '-', '-o', corpus], stdin=f)
    check('train -i - -o X with X on standard input is refused', rc == 1 and read(corpus) == before, err)
    mbytes = read(model)
    rc, out, err = run(['eval', '-m', model, '-i', corpus, '--predictions', model])
    check('eval --predictions MODEL is refused and the model is untouched', rc == 2 and read(model) == mbytes, err)
    os.symlink(model, 'mlink')
    rc, out, err = run(['eval', '-m', 'mlink', '-i', corpus, '-p', 'mlink'])
    check('eval -p through a link to the model is refused', rc == 2 and read(model) == mbytes, err)
    rc, out, err = run(['eval', '-m', model, '-i', corpus, '-p', 'link.jsonl'])
    check('eval -p through a link to the corpus is refused', rc == 2 and read(corpus) == before, err)
    env = dict(ENV, AITAG_MODEL=model)
    rc, out, err = run(['eval', '-i', corpus, '-p', model], env=env)
    check('eval -p DEFAULT-MODEL is refused', rc == 2 and read(model) == mbytes, err)

    # ---- names and options refused before any work --------------------------
    t0 = time.time()
    rc, out, err = run(['train', '-i', corpus, '-o', ''])
    check('train -o "" is refused at once (usage error)', rc == 2 and 'empty' in err and 'trained' not in err, err)
    rc, out, err = run(['eval', '-m', model, '-i', corpus, '-p', ''])
    check('eval -p "" is refused', rc == 2 and not os.path.exists(''), err)
    rc, out, err = run(['train', '-q', '-i', corpus, '-o', 'h.aitag', '--hash-bits', '12', '--max-features', '10'])
    check('--hash-bits with --max-features is refused', rc == 2 and '--max-features' in err, err)
    rc, out, err = run(['classify', 'x.txt'], env=dict(ENV, AITAG_MODEL='/' + 'a' * 5000))
    check('an over-long AITAG_MODEL is reported, not ignored', rc == 1 and 'AITAG_MODEL' in err and 'long' in err, err)

    # ---- devices and FIFOs ---------------------------------------------------
    rc, out, err = run(['train', '-i', '/dev/zero', '-o', 'z.aitag'], timeout=30)
    check('train -i /dev/zero: not a labelled corpus, no --skip-bad advice',
          rc == 1 and 'not a labelled corpus' in err and 'skip-bad' not in err, err)
    with open('zeros.jsonl', 'wb') as f:
        f.write(b'\0' * 100000)
    rc, out, err = run(['train', '-i', 'zeros.jsonl', '-o', 'z.aitag'], timeout=30)
    check('train on a file of NUL bytes: not a labelled corpus', rc == 1 and 'not a labelled corpus' in err, err)
    os.mkfifo('fifo')
    rc, out, err = run(['bench', '-m', model, '-i', 'fifo'], timeout=20)
    check('bench -i FIFO is refused, not waited on', rc == 1 and 'regular file' in err, err)
    rc, out, err = run(['bench', '-m', model, '-i', '/dev/null'], timeout=20)
    check('bench -i /dev/null is refused', rc == 1, err)
    rc, out, err = run(['classify', '-m', 'fifo', 'x.txt'], timeout=20)
    check('a FIFO as the model does not block', rc == 1, err)
    rc, out, err = run(['eval', '-m', '/dev/zero', '-i', corpus], timeout=20)
    check('/dev/zero as the model does not hang', rc == 1, err)

    # ---- a limit names the option that raises it -------------------------------
    with open('long.jsonl', 'w') as f:
        f.write('{"text": "%s", "labels": ["a"]}\n' % ('x' * 200))
        f.write('{"text": "short", "labels": ["a"]}\n')
    for cmd in (['train', '-i', 'long.jsonl', '-o', 'l.aitag'], ['eval', '-m', model, '-i', 'long.jsonl'],
                ['classify', '-m', model, 'long.jsonl'], ['tokenize', 'long.jsonl'],
                ['bench', '-m', model, '-r', '1', '-i', 'long.jsonl']):
        rc, out, err = run(cmd + ['--max-bytes', '100'])
        check('%s: a line over --max-bytes names --max-bytes' % cmd[0],
              rc in (0, 1) and '--max-bytes' in out + err and 'unknown option' not in err, out + err)
    with open('many-labels.jsonl', 'w') as f:
        for i in range(5):
            f.write('{"text": "doc %d", "labels": ["l%d"]}\n' % (i, i))
    rc, out, err = run(['train', '-q', '-i', 'many-labels.jsonl', '-o', 'ml.aitag', '--max-labels', '3'])
    check('train: too many labels names --max-labels', rc == 1 and '--max-labels' in err, err)

    # ---- bench --json --------------------------------------------------------
    for t in ('1', '2'):
        rc, out, err = run(['bench', '-m', model, '-i', corpus, '--json', '-r', '1', '-t', t])
        try:
            json.loads(out, object_pairs_hook=no_dup_keys)
            good = rc == 0
        except ValueError as e:
            good, err = False, str(e) + '\n' + out
        check('bench --json --threads %s: valid JSON without duplicate keys' % t, good, err)

    # ---- JSON lines: ids, labels, messages -----------------------------------
    lines = ('{"id": 0.1, "text": "hospital"}\n'
             '{"id": 12345678901234567890, "text": "robots"}\n'
             '{"id": -0.0, "text": "robots"}\n'
             '{"id": "lab", "text": "bank", "labels": "finance"}\n'
             '{"id": "lab2", "text": "bank", "labels": [1, null]}\n'
             '{"id": "tc", "text": "bank",}\n'
             '{"id": "sur", "text": "\\ud800"}\n'
             '{"id": "open", "text": "bank\n')
    rc, out, err = run(['classify', '-m', model, '-'], inp=lines.encode())
    outl = out.splitlines()
    check('classify: one output line per input line', len(outl) == 8, out)
    if len(outl) == 8:
        check('numeric ids are echoed exactly as written',
              outl[0].startswith('{"id": 0.1,') and outl[1].startswith('{"id": 12345678901234567890,')
              and outl[2].startswith('{"id": -0.0,'), out)
        check('classify: a malformed labels field it does not use costs no article',
              '"error"' not in outl[3] and '"error"' not in outl[4], out)
        check('JSON errors: trailing comma, with the column', 'trailing comma' in outl[5] and 'column 28' in outl[5],
              outl[5])
        check('JSON errors: lone surrogate', 'lone surrogate' in outl[6], outl[6])
        check('JSON errors: unterminated string', 'unterminated string' in outl[7], outl[7])
    deep = '{"text": "x", "a": ' + '[' * 1200 + ']' * 1200 + '}\n'
    rc, out, err = run(['classify', '-m', model, '-'], inp=deep.encode())
    check('JSON errors: nesting too deep', 'nesting too deep' in out, out[:300])

    # ---- labels in NFC -------------------------------------------------------
    with open('nfc.jsonl', 'w', encoding='utf-8') as f:
        for i in range(12):
            lab = 'caf\u00e9' if i % 4 == 0 else 'cafe\u0301' if i % 4 == 1 else 'tea'
            f.write(json.dumps({'text': 'doc %d %s' % (i, 'coffee beans' if i % 4 < 2 else 'green leaves'),
                                'labels': [lab]}) + '\n')
    rc, out, err = run(['train', '-q', '--min-df', '1', '--folds', '0', '-i', 'nfc.jsonl', '-o', 'nfc.aitag'])
    rc2, info, err2 = run(['info', '--json', 'nfc.aitag'])
    try:
        labels = json.loads(info)['labels']
    except (ValueError, KeyError, TypeError):
        labels = None
    check('NFC and NFD spellings of a label are one label', rc == 0 and labels is not None and len(labels) == 2
          and 'caf\u00e9' in labels, err + err2 + info[:300])

    # ---- a standard input left non-blocking -----------------------------------
    r, w = os.pipe()
    fl = fcntl.fcntl(r, fcntl.F_GETFL)
    fcntl.fcntl(r, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    p = subprocess.Popen([AITAG, 'classify', '-m', model, '--threads', '1', '-'], stdin=r,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    os.close(r)
    os.write(w, b'{"id": "a", "text": "hospital"}\n')
    time.sleep(0.5)
    os.write(w, b'{"id": "b", "text": "robots"}\n')
    time.sleep(0.3)
    os.close(w)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    check('a non-blocking standard input: the stream waits through a pause',
          p.returncode == 0 and len(out.splitlines()) == 2, (out + err).decode('utf-8', 'replace'))

    # ---- a closed pipe ---------------------------------------------------------
    with open('many.jsonl', 'w') as f:
        for i in range(50000):
            f.write('{"id": %d, "text": "robots and hospitals and banks"}\n' % i)
    for cmd in (['tokenize', 'many.jsonl'], ['classify', '-m', model, 'many.jsonl']):
        p = subprocess.Popen([AITAG] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        p.stdout.read(10)
        p.stdout.close()
        err = p.stderr.read().decode()
        rc = p.wait()
        check('%s into a closed pipe: exit 1, "Broken pipe"' % cmd[0], rc == 1 and 'Broken pipe' in err, err)

    # ---- signals during training ----------------------------------------------
    big_corpus('big.jsonl', 3000, 120)
    for sig, want in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        out_model = os.path.join(tmp, 'sig.aitag')
        p = subprocess.Popen([AITAG, 'train', '-q', '--min-df', '1', '--search-C', '--folds', '5', '--threads', '2',
                              '-i', 'big.jsonl', '-o', out_model], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=ENV)
        time.sleep(1.5)
        running = p.poll() is None
        t0 = time.time()
        p.send_signal(sig)
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        took = time.time() - t0
        # while training: exit 128 + the signal after stopping the workers; while still
        # reading the corpus (a slow machine, a sanitizer): the signal's default action
        check('%s during train: exit %d within seconds, no model, no temporary file' % (sig.name, want),
              running and p.returncode in (want, -sig) and took < 10 and not os.path.exists(out_model)
              and not temps_beside(out_model),
              'running %s, status %s, %.1f s, %s' % (running, p.returncode, took, err.decode()))

    # ---- a save killed earlier left a temporary file ----------------------------
    with open('/proc/sys/kernel/pid_max') as f:
        dead = int(f.read()) + 1
    stale = model + '.tmp.%d.0' % dead
    live = model + '.tmp.%d.0' % os.getpid()
    for path in (stale, live):
        with open(path, 'wb') as f:
            f.write(b'x' * 1000)
    rc, out, err = run(['train', '-q', '--min-df', '1', '--folds', '0', '-i', TRAIN, '-o', model])
    check('train removes the temporary file of a killed save, not one of a live process',
          rc == 0 and not os.path.exists(stale) and os.path.exists(live), err)
    os.unlink(live)

    subprocess.run(['rm', '-rf', tmp])
    print('%d of %d checks failed' % (failed, count) if failed else 'all %d checks passed' % count)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
