import { MemoryStore } from "../../../src/store/memory.ts";
import { flowContract } from "../../support/flow-contract.ts";

flowContract("MemoryStore", () => new MemoryStore());
