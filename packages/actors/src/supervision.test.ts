import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ActorContext } from './actor.js';
import { ActorSystem } from './actor-system.js';
import { Supervision, type SupervisorStrategy } from './supervision.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isStopped = (e: unknown) => (e as { code?: string }).code === 'WEIR_ACTOR_STOPPED';

/** A counter that throws on 'boom'; counts preStart and postStop calls. */
function counter(supervisor: SupervisorStrategy) {
  const stats = { starts: 0, stops: 0, instances: 0 };
  const boom = Object.assign(new Error('boom'), { code: 'MY_CODE' });
  const props = {
    supervisor,
    create: () => {
      stats.instances++;
      let count = 0;
      return {
        preStart: () => void stats.starts++,
        postStop: () => void stats.stops++,
        receive: async (m: string) => {
          if (m === 'boom') throw boom;
          return ++count;
        },
      };
    },
  };
  return { props, stats, boom };
}

test('restart: fresh instance (state reset, preStart again), failing ask gets the error, later messages processed', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'restart' });
  const { props, stats, boom } = counter(Supervision.restart());
  const ref = system.spawn<string>('c', props);
  assert.equal(await ref.ask('inc'), 1);
  assert.equal(await ref.ask('inc'), 2);
  ref.tell('inc');
  const failed = ref.ask('boom');
  const after = ref.ask('inc'); // queued behind the failure: must survive the restart
  await assert.rejects(failed, (e) => e === boom, 'a local ask rejects with the very error object');
  assert.equal(await after, 1, 'state was reset by the restart');
  assert.equal(stats.instances, 2);
  assert.equal(stats.starts, 2, 'preStart ran on the fresh instance');
  assert.equal(stats.stops, 1, 'postStop ran on the old instance');
  await system.shutdown();
});

test('resume keeps the instance and its state', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'resume' });
  const { props, stats } = counter(Supervision.resume());
  const ref = system.spawn<string>('c', props);
  assert.equal(await ref.ask('inc'), 1);
  await assert.rejects(ref.ask('boom'), /boom/);
  assert.equal(await ref.ask('inc'), 2);
  assert.equal(stats.instances, 1);
  await system.shutdown();
});

test('stop: postStop runs, queued asks are rejected WEIR_ACTOR_STOPPED, later asks too, tells dropped', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'stop' });
  const { props, stats } = counter(Supervision.stop());
  const ref = system.spawn<string>('c', props);
  const failed = ref.ask('boom');
  const queued = ref.ask('inc');
  await assert.rejects(failed, /boom/);
  await assert.rejects(queued, isStopped);
  await assert.rejects(ref.ask('inc'), isStopped);
  ref.tell('inc'); // dropped, no throw
  assert.equal(stats.stops, 1);
  assert.equal(stats.instances, 1, 'no restart');
  await system.shutdown();
});

test('escalate: the child stops and the parent is restarted by its own strategy', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'escalate' });
  let parentStarts = 0;
  let childStops = 0;
  let lastCtx: ActorContext<string> | undefined;
  const parent = system.spawn<string>('parent', {
    supervisor: Supervision.restart(),
    create: () => {
      let handled = 0;
      return {
        preStart: (ctx: ActorContext<string>) => {
          parentStarts++;
          lastCtx = ctx;
          // Same child name on every start: works only if a restart stops the old children.
          ctx.spawn<string>('worker', {
            supervisor: Supervision.escalate(),
            create: () => ({
              postStop: () => void childStops++,
              receive: (m: string) => {
                if (m === 'fail') throw new Error('child failed');
                return `child:${m}`;
              },
            }),
          });
        },
        receive: () => ++handled,
      };
    },
  });
  assert.equal(await parent.ask('x'), 1);
  const child = system.ref<string>('parent/worker');
  assert.equal(await child.ask('hi'), 'child:hi');
  await assert.rejects(child.ask('fail'), /child failed/);
  await sleep(20);
  assert.equal(parentStarts, 2, 'the parent was restarted');
  assert.equal(childStops, 1);
  assert.equal(await parent.ask('x'), 1, 'parent state reset');
  assert.equal(await system.ref<string>('parent/worker').ask('again'), 'child:again', 'the new instance has a new child');
  assert.equal(lastCtx?.name, 'parent');
  await system.shutdown();
});

test('top-level escalate calls onEscalate and stops the actor', { timeout: 5000 }, async () => {
  const escalated: [string, unknown][] = [];
  const system = new ActorSystem({ name: 'top', onEscalate: (n, e) => escalated.push([n, e]) });
  const { props, boom } = counter(Supervision.escalate());
  const ref = system.spawn<string>('c', props);
  await assert.rejects(ref.ask('boom'));
  await sleep(10);
  assert.deepEqual(escalated, [['c', boom]]);
  await assert.rejects(ref.ask('inc'), isStopped);
  await system.shutdown();
});

test('maxRestarts exceeded within the window stops the actor and escalates to the parent', { timeout: 5000 }, async () => {
  const escalated: string[] = [];
  const system = new ActorSystem({ name: 'budget', onEscalate: (n) => escalated.push(n) });
  const { props, stats } = counter(Supervision.restart({ maxRestarts: 2, withinMs: 10_000 }));
  const flaky = system.spawn<string>('flaky', props);
  for (let i = 0; i < 3; i++) await assert.rejects(flaky.ask('boom'), /boom/);
  await sleep(10);
  assert.equal(stats.instances, 3, 'two restarts, then no more');
  await assert.rejects(flaky.ask('inc'), isStopped);
  assert.deepEqual(escalated, ['flaky'], 'a top-level actor reports through onEscalate');

  let parentFailures = 0;
  system.spawn<string>('p', {
    supervisor: Supervision.decider(() => (parentFailures++, 'resume')),
    create: () => ({
      preStart: (ctx: ActorContext<string>) => void ctx.spawn('c', counter(Supervision.restart({ maxRestarts: 1 })).props),
      receive: () => undefined,
    }),
  });
  await sleep(10);
  const child = system.ref<string>('p/c');
  for (let i = 0; i < 2; i++) await assert.rejects(child.ask('boom'), /boom/);
  await sleep(10);
  assert.equal(parentFailures, 1, "the parent's strategy saw the child's failure");
  await assert.rejects(child.ask('inc'), isStopped);
  await system.shutdown();
});

test('a failing preStart is supervised like a failing receive', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'prestart' });
  let attempts = 0;
  const ref = system.spawn<string>('a', {
    create: () => ({
      preStart: () => {
        if (++attempts < 3) throw new Error('not yet');
      },
      receive: () => attempts,
    }),
  });
  assert.equal(await ref.ask('x'), 3, 'restarted until preStart succeeded; messages waited');
  await system.shutdown();
});

test('ctx.stop() stops after the current message; children stop with their parent', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'ctxstop' });
  const stopped: string[] = [];
  const ref = system.spawn<string>('p', {
    create: () => ({
      preStart: (ctx: ActorContext<string>) => void ctx.spawn('kid', { create: () => ({ receive: () => 'kid', postStop: () => void stopped.push('kid') }) }),
      postStop: () => void stopped.push('p'),
      receive: (m: string, ctx: ActorContext<string>) => {
        if (m === 'quit') ctx.stop();
        return m;
      },
    }),
  });
  assert.equal(await ref.ask('hello'), 'hello'); // preStart (which spawns the kid) has run
  assert.equal(await system.ref('p/kid').ask('?'), 'kid');
  const quit = ref.ask('quit');
  const next = ref.ask('next');
  assert.equal(await quit, 'quit', 'the current message still completes');
  await assert.rejects(next, isStopped); // rejected as the stop begins, before postStop
  await sleep(20);
  assert.deepEqual(stopped, ['kid', 'p']);
  await assert.rejects(system.ref('p/kid').ask('?'), (e: unknown) => (e as { code?: string }).code === 'WEIR_ACTOR_NOT_FOUND');
  await system.shutdown();
});
