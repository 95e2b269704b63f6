#!/usr/bin/env python3
"""How far any ranking by simple alert features can go on the GAIA MicroSS / OpenRCA alert files.

For each fault, each feature ranks the entities by a count over that fault's own alerts
(metric alerts, distinct metric alerts, trace alerts as callee or caller, HTTP-error traces,
performance-degradation traces as caller, log alerts). "Oracle" counts a fault as found when
*any* feature puts the true entity first: no single scoring of these features can do better
than choosing, per fault, the feature that happens to be right. Per fault type it also shows
how often the culprit raised no alert of a kind at all.

    python3 eval/gaia_ceiling.py [../shared/datasets/rca_alerts_gaia_openrca]
"""
import collections
import csv
import json
import os
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), '..', '..', 'shared', 'datasets', 'rca_alerts_gaia_openrca')


def load(system):
    d = os.path.join(ROOT, system)
    metrics = json.load(open(os.path.join(d, 'metric', 'metrics.json')))
    traces = json.load(open(os.path.join(d, 'trace', 'traces.json')))
    logs = json.load(open(os.path.join(d, 'log', 'logs.json')))
    labels = list(csv.DictReader(open(os.path.join(d, 'label.csv'))))
    kg = json.load(open(os.path.join(d, f'{system}-KG.json')))
    service_of = {e['source']: e['target'] for e in kg['edges'] if e.get('label') == 'instance_of'}
    return metrics, traces, logs, labels, service_of


def features(metrics, traces, logs):
    m = lambda f: metrics.get(f) or []
    t = lambda f: traces.get(f) or []
    lg = lambda f: logs.get(f) or []
    return {
        'metric alerts': lambda f: collections.Counter(x[1] for x in m(f)),
        'distinct metric alerts': lambda f: collections.Counter(
            e for e, _ in {(x[1], x[3]) for x in m(f)}),
        'traces as callee': lambda f: collections.Counter(x[2] for x in t(f)),
        'traces as caller': lambda f: collections.Counter(x[1] for x in t(f)),
        'error traces as callee': lambda f: collections.Counter(
            x[2] for x in t(f) if x[4] != 'PD'),
        'slow traces as caller': lambda f: collections.Counter(
            x[1] for x in t(f) if x[4] == 'PD'),
        'log alerts': lambda f: collections.Counter(x[0] for x in lg(f)),
    }


def rank(counts, entity, service_of):
    """1-based rank of the culprit: its best count among the entity itself and its instances (a
    fault labelled at service level is found by any of its pods, as `rootline eval` scores it),
    with ties resolved in its favour, so that the oracle below is an upper bound."""
    mine = [v for k, v in counts.items() if k == entity or service_of.get(k) == entity]
    if not mine:
        return None
    best = max(mine)
    return 1 + sum(1 for k, v in counts.items()
                   if v > best and k != entity and service_of.get(k) != entity)


def main():
    for system in ['MicroSS', 'Online-Boutique-cloudbed-1']:
        metrics, traces, logs, labels, service_of = load(system)
        feats = features(metrics, traces, logs)
        print(f'## {system}: {len(labels)} faults')
        by_type = collections.defaultdict(list)
        for row in labels:
            by_type[row['fault_type']].append(row)
        for fault_type, rows in sorted(by_type.items()):
            print(f'{fault_type} ({len(rows)})')
            for name, fn in feats.items():
                ranks = [rank(fn(r['fault_id']), r['fault_entity'], service_of) for r in rows]
                print(f'    {name:24} first {sum(r == 1 for r in ranks):3}'
                      f'  top-3 {sum(r is not None and r <= 3 for r in ranks):3}'
                      f'  culprit absent {sum(r is None for r in ranks):3}')
        oracle = sum(any(rank(fn(r['fault_id']), r['fault_entity'], service_of) == 1 for fn in feats.values())
                     for r in labels)
        silent = sum(all(rank(fn(r['fault_id']), r['fault_entity'], service_of) is None
                         for fn in feats.values()) for r in labels)
        print(f'oracle (any feature puts the culprit first): {oracle}/{len(labels)}'
              f' = {oracle / len(labels):.2f}; culprit raised no alert at all: {silent}\n')


if __name__ == '__main__':
    main()
