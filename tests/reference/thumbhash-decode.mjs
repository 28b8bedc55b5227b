// Decode ThumbHashes (base64, one per argument) with the reference implementation (evanw/thumbhash):
// one JSON line each, with the rendered placeholder's size and RGBA pixels (base64), its average colour and
// the aspect ratio it carries.
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA, thumbHashToRGBA } from "thumbhash";

for (const text of process.argv.slice(2)) {
  const hash = Buffer.from(text, "base64");
  const { w, h, rgba } = thumbHashToRGBA(hash);
  const average = thumbHashToAverageRGBA(hash);
  const ratio = thumbHashToApproximateAspectRatio(hash);
  const { r, g, b, a } = average;
  console.log(JSON.stringify({ w, h, rgba: Buffer.from(rgba).toString("base64"), average: [r, g, b, a], ratio }));
}
