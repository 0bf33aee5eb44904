// Runs the consumer's handler on this machine, the way Lambda's SQS event source mapping does.
//
//   node invoke.mjs EVENT.json         an SQS event in Lambda's shape ('-': standard input)
//   node invoke.mjs --queue-url URL    what is on the queue now, ten messages a batch; deletes
//                                      each message the handler did not report as failed
//
// Standard output: the consumer's log lines, then the handler's response for each batch (one
// JSON line). The AWS SDK's variables apply (AWS_ENDPOINT_URL for moto, AWS_REGION, credentials).

import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";

import { handler } from "./index.mjs";

/** ReceiveMessage's messages as the records of a Lambda SQS event. */
export function lambdaEvent(messages, queueArn, region) {
  const attribute = (value) => ({
    ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
    ...(value.BinaryValue !== undefined && { binaryValue: Buffer.from(value.BinaryValue).toString("base64") }),
    stringListValues: [],
    binaryListValues: [],
    dataType: value.DataType,
  });
  return {
    Records: messages.map((m) => ({
      messageId: m.MessageId,
      receiptHandle: m.ReceiptHandle,
      body: m.Body,
      attributes: m.Attributes ?? {},
      messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([name, value]) => [name, attribute(value)])),
      md5OfBody: m.MD5OfBody,
      md5OfMessageAttributes: m.MD5OfMessageAttributes ?? null,
      eventSource: "aws:sqs",
      eventSourceARN: queueArn,
      awsRegion: region,
    })),
  };
}

async function drain(queueUrl, waitSeconds) {
  const sqs = new SQSClient({});
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }));
  const region = await sqs.config.region();
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitSeconds,
        MessageAttributeNames: ["All"],
        MessageSystemAttributeNames: ["All"],
      }),
    );
    if (Messages.length === 0) {
      return;
    }
    const response = await handler(lambdaEvent(Messages, Attributes.QueueArn, region));
    console.log(JSON.stringify(response));
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    const done = Messages.filter((m) => !failed.has(m.MessageId));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
  }
}

// Run as a program (the unit tests import lambdaEvent only).
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { "queue-url": { type: "string" }, "wait-seconds": { type: "string", default: "1" } },
  });
  if (values["queue-url"] !== undefined) {
    await drain(values["queue-url"], Number(values["wait-seconds"]));
  } else if (positionals.length === 1) {
    const event = JSON.parse(readFileSync(positionals[0] === "-" ? 0 : positionals[0], "utf8"));
    console.log(JSON.stringify(await handler(event)));
  } else {
    console.error("usage: node invoke.mjs EVENT.json | --queue-url URL [--wait-seconds N]");
    process.exit(2);
  }
}
