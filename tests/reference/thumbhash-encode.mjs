// The reference implementation's (evanw/thumbhash) ThumbHash of raw RGBA pixels: WIDTH HEIGHT PIXELS (base64).
import { rgbaToThumbHash } from "thumbhash";

const [width, height, pixels] = process.argv.slice(2);
console.log(Buffer.from(rgbaToThumbHash(Number(width), Number(height), Buffer.from(pixels, "base64"))).toString("base64"));
