#!/usr/bin/env python3
"""test_stream.py AITAG [GIB]: a 1 GiB stream of tiny articles through `aitag classify`.

Checks that every input line yields exactly one output line, that the output keeps the input
order (ids are sequential), and that peak memory stays bounded (the stream is never held in
memory). The stream is generated on the fly, so the test itself uses little memory or disk.
"""
import os
import resource
import subprocess
import sys
import tempfile

aitag = sys.argv[1]
gib = float(sys.argv[2] if len(sys.argv) > 2 else os.environ.get('AITAG_STREAM_GIB', '1'))
total = int(gib * (1 << 30))

corpus = [
    ('new gpu cluster and liquid cooling for the data center campus', ['datacenter']),
    ('foundry ships 2 nanometer wafers and hbm memory for accelerators', ['chips']),
    ('humanoid robot picks boxes in the warehouse', ['robotics']),
    ('the bank reported quarterly earnings and a higher dividend', []),
    ('operator launches 5g network slicing for factories', ['telecom']),
    ('chatbot built on a large language model answers customers', ['genai']),
] * 3
with tempfile.TemporaryDirectory() as tmp:
    train = os.path.join(tmp, 'train.jsonl')
    with open(train, 'w') as f:
        for i, (text, labels) in enumerate(corpus):
            f.write('{"id": "%d", "text": "%s %d", "labels": [%s]}\n'
                    % (i, text, i, ', '.join('"%s"' % l for l in labels)))
    model = os.path.join(tmp, 'm.aitag')
    subprocess.run([aitag, 'train', '-q', '--min-df', '1', '--folds', '0', '-i', train, '-o', model], check=True)

    p = subprocess.Popen([aitag, 'classify', '-m', model, '--scores', 'none', '--threads', '2', '-'],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    import threading

    n_in = [0]

    def feed():
        written, i = 0, 0
        chunk = []
        while written < total:
            line = '{"id": %d, "text": "robot chips data center %d"}\n' % (i, i % 97)
            chunk.append(line)
            written += len(line)
            i += 1
            if len(chunk) == 4096:
                p.stdin.write(''.join(chunk).encode())
                chunk = []
        if chunk:
            p.stdin.write(''.join(chunk).encode())
        p.stdin.close()
        n_in[0] = i

    t = threading.Thread(target=feed)
    t.start()
    n_out, expect, bad_order = 0, 0, 0
    for line in p.stdout:
        # ids are numbers, echoed as numbers, in order
        if not line.startswith(b'{"id": %d,' % expect):
            bad_order += 1
        expect += 1
        n_out += 1
    t.join()
    rc = p.wait()
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f'input lines {n_in[0]}, output lines {n_out}, out of order {bad_order}, exit {rc}, '
          f'peak RSS {rss_mib:.0f} MiB for {total / (1 << 20):.0f} MiB of input')
    # Under AddressSanitizer the peak RSS measures the sanitizer's shadow memory and
    # quarantine, not aitag, so the bound is only checked in a plain build.
    sanitized = os.environ.get('AITAG_SANITIZED') == '1'
    if sanitized:
        print('(peak memory not checked: sanitizer build)')
    ok = rc == 0 and n_out == n_in[0] and bad_order == 0 and (sanitized or rss_mib < 256)
    print('ok' if ok else 'FAIL')
    sys.exit(0 if ok else 1)
