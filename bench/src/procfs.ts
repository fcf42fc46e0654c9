/**
 * CPU accounting from /proc (Linux): per-process user+system time and whole-machine busy time,
 * sampled on an interval so a window (e.g. a job's RUNNING..end) can be cut out afterwards.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcStat {
  /** R, S, D, Z (zombie), ... */
  readonly state: string;
  readonly ppid: number;
  /** Start time in clock ticks since boot: with the pid, identifies a process (pids are reused). */
  readonly startTicks: number;
  /** user + system time, in ms. */
  readonly cpuMs: number;
}

/** /proc/<pid>/stat, or undefined when the process is gone (or this is not Linux). */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ... utime stime ...": comm may hold spaces, so split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0]!, ppid: Number(f[1]), startTicks: Number(f[19]), cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK };
}

/** Pids whose parent is `ppid`. */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of safeReaddir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (procStat(Number(name))?.ppid === ppid) out.push(Number(name));
  }
  return out;
}

/** Pids of processes whose command name is `comm` (e.g. nats-server). Read-only: nothing is signaled. */
export function pidsByName(comm: string): number[] {
  const out: number[] = [];
  for (const name of safeReaddir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === comm) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Whole machine: busy and total jiffies from the first line of /proc/stat, in ms. */
function machine(): { busyMs: number; totalMs: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
    const idle = cpu[3]! + (cpu[4] ?? 0);
    return { busyMs: ((total - idle) * 1000) / CLK_TCK, totalMs: (total * 1000) / CLK_TCK };
  } catch {
    return undefined;
  }
}

interface Sample {
  readonly t: number;
  readonly cpu: Map<string, number>;
  readonly busyMs: number;
  readonly totalMs: number;
}

export interface CpuWindow {
  readonly wallMs: number;
  /** Per label: CPU time in the window as a percentage of one core (200% = both cores of a 2-core machine). */
  readonly perProcess: Map<string, number>;
  /** Whole machine busy time as a percentage of all cores. */
  readonly machineBusy: number;
}

/** Samples the CPU time of labelled processes every `everyMs` until stopped. */
export class CpuSampler {
  private readonly samples: Sample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly processes: () => ReadonlyMap<string, number>,
    everyMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  private sample(): void {
    const m = machine();
    if (!m) return;
    const cpu = new Map<string, number>();
    for (const [label, pid] of this.processes()) {
      const s = procStat(pid);
      if (s) cpu.set(label, s.cpuMs);
    }
    this.samples.push({ t: Date.now(), cpu, ...m });
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /** CPU used between wall-clock times `from` and `to` (ms since epoch), from the samples inside it. */
  window(from: number, to: number): CpuWindow | undefined {
    const inside = this.samples.filter((s) => s.t >= from && s.t <= to);
    if (inside.length < 2) return undefined;
    const a = inside[0]!;
    const b = inside[inside.length - 1]!;
    const wallMs = b.t - a.t;
    if (wallMs <= 0) return undefined;
    const perProcess = new Map<string, number>();
    for (const [label, end] of b.cpu) {
      const start = a.cpu.get(label);
      if (start !== undefined) perProcess.set(label, (100 * (end - start)) / wallMs);
    }
    const machineBusy = (100 * (b.busyMs - a.busyMs)) / Math.max(1, b.totalMs - a.totalMs);
    return { wallMs, perProcess, machineBusy };
  }
}
