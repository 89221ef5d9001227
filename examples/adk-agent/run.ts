import { createInterface } from 'node:readline/promises';
import { InMemoryRunner, isFinalResponse, stringifyContent } from '@google/adk';
import { createPosAgent, createPosToolset } from './agent.js';

/**
 * Chat with the FlowPOS agent in a terminal:
 *
 *   GEMINI_API_KEY=… FLOWPOS_MCP_URL=http://localhost:4000/mcp FLOWPOS_API_KEY=fpk_… \
 *     npx tsx examples/adk-agent/run.ts ["first message"]
 *
 * See README.md beside this file.
 */

const url = process.env.FLOWPOS_MCP_URL ?? `http://localhost:${process.env.PORT ?? '4000'}/mcp`;
const apiKey = process.env.FLOWPOS_API_KEY;
if (!apiKey) {
  process.stderr.write('Set FLOWPOS_API_KEY to a flowpos-mcp API key (`npm start` prints a demo key).\n');
  process.exit(2);
}
if (!process.env.GEMINI_API_KEY && !process.env.GOOGLE_API_KEY && !process.env.GOOGLE_GENAI_API_KEY) {
  process.stderr.write('Set GEMINI_API_KEY (https://aistudio.google.com/apikey) so the agent has a model to think with.\n');
  process.exit(2);
}

const toolset = createPosToolset({ url, apiKey });
const agent = createPosAgent({ toolset, ...(process.env.ADK_MODEL ? { model: process.env.ADK_MODEL } : {}) });
const runner = new InMemoryRunner({ agent, appName: 'flowpos-cashier' });
const userId = 'terminal';
const session = await runner.sessionService.createSession({ appName: runner.appName, userId });

async function turn(text: string): Promise<void> {
  for await (const event of runner.runAsync({ userId, sessionId: session.id, newMessage: { role: 'user', parts: [{ text }] } })) {
    if (isFinalResponse(event)) {
      const reply = stringifyContent(event).trim();
      if (reply) process.stdout.write(`\nagent> ${reply}\n\n`);
    }
  }
}

const rl = createInterface({ input: process.stdin, output: process.stdout });
try {
  const first = process.argv.slice(2).join(' ').trim();
  if (first) await turn(first);
  for (;;) {
    const line = (await rl.question('you> ').catch(() => '')).trim();
    if (!line || line === 'exit' || line === 'quit') break;
    await turn(line);
  }
} finally {
  rl.close();
  await toolset.close();
}
